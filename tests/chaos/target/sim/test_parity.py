"""Parity: sim mode and live mode give the same trace for every scenario both can run, and sim mode
gives the same journal, byte for byte, for the same seed over the whole catalogue.

The live side runs each scenario once (marked `live`: about two minutes for the four scenarios sim
mode can run, on two cores); `pytest tests/chaos/target/sim/test_parity.py` is the full comparison, and the
suite (scripts/test.sh) runs it too.
"""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from chaos.cli import main
from chaos.engine import RunOptions, run_one, run_scenario
from chaos.scenario import load_paths
from chaos.target.sim.parity import first_divergence, normalised_trace
from chaos.target.sim.support import sim_blockers

CATALOGUE = Path(__file__).resolve().parents[4] / "scenarios"
LOADED, _ = load_paths([str(CATALOGUE)])
BOTH = [item for item in LOADED if not sim_blockers(item.scenario)]


def name(item) -> str:
    return item.source.name.split("scenarios/")[-1]


@pytest.mark.parametrize("loaded", LOADED, ids=[name(item) for item in LOADED])
def test_each_catalogue_scenario_passes_in_sim_mode_or_says_why_it_cannot_run(loaded, tmp_path):
    result = run_one(loaded, RunOptions(workdir=tmp_path, mode="sim"))
    if result.outcome == "skipped":
        reason = result.journal["notes"][0]["text"]
        assert "not run in sim mode: " in reason and len(reason) > len("not run in sim mode: ") + 10
        return
    assert result.outcome == "passed", result.report()


@pytest.mark.live
@pytest.mark.parametrize("loaded", BOTH, ids=[name(item) for item in BOTH])
def test_sim_and_live_give_the_same_trace_step_by_step(loaded, tmp_path):
    simulated = run_one(loaded, RunOptions(workdir=tmp_path / "sim", mode="sim"))
    live = anyio.run(run_scenario, loaded, RunOptions(workdir=tmp_path / "live"))
    assert (simulated.outcome, live.outcome) == ("passed", "passed"), live.report() + simulated.report()
    divergence = first_divergence(normalised_trace(simulated.journal), normalised_trace(live.journal))
    assert divergence is None, divergence


def test_a_catalogue_scenario_both_modes_run_is_compared():
    assert {"healthy-restart", "restart-times-out"} <= {item.scenario.name for item in BOTH}


def test_the_first_divergent_step_is_named():
    trace = [
        {"step": "steps[0]", "kind": "start", "outcome": "passed", "tool": None},
        {"step": "steps[1]", "kind": "restart", "outcome": "passed", "tool": "orchestrator_restart_server", "success": True},
        {"step": "steps[2]", "kind": "call", "outcome": "passed", "tool": "orchestrator_query_tasks", "counts": {"total": 2}},
    ]
    assert first_divergence(trace, trace) is None
    other = [trace[0], {**trace[1], "success": False, "error_code": "RESTART_004"}, {**trace[2], "counts": {"total": 3}}]
    assert first_divergence(trace, other).startswith("steps[1] (restart) diverges first, in error_code, success:")
    assert "happened only in live mode" in first_divergence(trace[:2], trace)


def test_the_same_seed_writes_the_same_journal_byte_for_byte_over_the_whole_catalogue(tmp_path, capsys):
    journals = []
    for run in ("first", "second"):
        report = tmp_path / run
        main(["run", str(CATALOGUE), "--mode", "sim", "--seed", "11", "--quiet", "--workdir", str(tmp_path / "work"), "--report", str(report)])
        journals.append((report / "journal.json").read_bytes())
    assert b'"outcome": "skipped"' in journals[0] and b'"outcome": "passed"' in journals[0]
    assert journals[0] == journals[1]

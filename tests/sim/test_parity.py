"""Parity: the catalogue in sim mode gives the outcomes and error codes it gives live.

Every catalogue scenario asserts its outcomes and error codes step by step, and the live suite
runs each one (tests/scenario/test_catalogue.py, and `pytest scenarios/`). So a scenario that
passes here as well gives the same outcomes and codes in both modes. One that sim mode cannot run
must say why, and is not run at all.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from chaos.engine import RunOptions
from chaos.scenario import load_paths
from chaos.sim.run import run_simulated

CATALOGUE = Path(__file__).resolve().parents[2] / "scenarios"
LOADED, _ = load_paths([str(CATALOGUE)])


@pytest.mark.parametrize("loaded", LOADED, ids=[item.source.name.split("scenarios/")[-1] for item in LOADED])
def test_each_catalogue_scenario_passes_in_sim_mode_or_says_why_it_cannot_run(loaded, tmp_path):
    result = run_simulated(loaded, RunOptions(workdir=tmp_path, mode="sim"))
    if result.outcome == "skipped":
        reason = result.journal["notes"][0]["text"]
        assert "not run in sim mode: " in reason and len(reason) > len("not run in sim mode: ") + 10
        return
    assert result.outcome == "passed", result.report()


"""Bounded soaks: a live one (about 30 events, two clients) and a simulated one (a few hundred events),
which must pass on the orchestrator as it is; and a simulated soak replays byte for byte."""

from __future__ import annotations

from pathlib import Path

import pytest

from chaos.report.journal import RunInfo
from chaos.soak.report import write_soak_reports
from chaos.soak.run import SoakOptions, run_soak


def soaked(tmp_path: Path, report: str = "report", **options) -> tuple:
    result = run_soak(SoakOptions(workdir=tmp_path, **options))
    written = write_soak_reports(tmp_path / report, result, RunInfo("test", 0.0, result.scenario.duration_s, result.options.mode))
    return result, written


def assert_passed(result) -> None:
    soak = result.public()
    assert result.passed, f"{soak['findings'][:3]} {[o.message for o in result.nemesis_findings][:3]} {soak['invariants_broken']}"
    assert soak["calls"] > 0 and soak["lost"] == soak["doubled"] == soak["phantom"] == soak["unknown_tool"] == 0
    assert soak["availability"] >= 1 - soak["max_failed"] - soak["indeterminate"] / soak["calls"]


@pytest.mark.live
@pytest.mark.timeout(900)
def test_a_live_soak_of_thirty_events_passes(tmp_path: Path):
    result, written = soaked(tmp_path, mode="live", events=30, clients=2, seed=11)
    assert_passed(result)
    assert {o.event.kind for o in result.events} >= {"kill_starting", "crash_orchestrator"}, "seed 11 draws both"
    assert '"soak"' in written["journal.json"].read_text() and "Availability over time" in written["report.html"].read_text()


@pytest.mark.timeout(600)
def test_a_simulated_soak_of_two_hundred_events_passes(tmp_path: Path):
    result, _ = soaked(tmp_path, mode="sim", events=200, clients=2, seed=5)
    assert_passed(result)
    assert len(result.events) == 200 and sum(o.outcome == "passed" for o in result.events) > 150


def test_the_same_seed_gives_the_same_simulated_journal_byte_for_byte(tmp_path: Path):
    _, written = soaked(tmp_path, "a", mode="sim", events=25, clients=2, seed=8)
    _, rewritten = soaked(tmp_path, "b", mode="sim", events=25, clients=2, seed=8)
    assert rewritten["journal.json"].read_bytes() == written["journal.json"].read_bytes()

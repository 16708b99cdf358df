"""The right runbook recovers; a wrong one (the wrong flag, a deleted database) fails, naming the block."""

from __future__ import annotations

from pathlib import Path

import pytest

from chaos.runbook.cli import run_runbook

from .support import RUNBOOKS, variant

INCIDENT = RUNBOOKS / "incidents" / "disk-full.yaml"
RIGHT = RUNBOOKS / "disk-full.md"


@pytest.mark.live
def test_the_right_runbook_recovers(tmp_path: Path) -> None:
    verdict = run_runbook(RIGHT, INCIDENT, tmp_path / "report", tmp_path / "work")
    assert verdict is not None and verdict.recovered, verdict and verdict.summary
    assert [b.outcome for b in verdict.blocks if b.language in ("bash", "python")] == ["passed"] * 4
    report = (tmp_path / "report" / "runbook.md").read_text()
    assert "RECOVERED" in report and "restart done: RESTART_005" in report  # the phase timeline beside the blocks


@pytest.mark.live
def test_restarting_with_the_wrong_flag_fails_at_that_block(tmp_path: Path) -> None:
    wrong = variant(RIGHT, tmp_path, '"preserve_state": false', '"preserve_state": true')
    verdict = run_runbook(wrong, INCIDENT, tmp_path / "report", tmp_path / "work")
    assert verdict is not None and not verdict.recovered
    assert verdict.summary.startswith("block 3 (wrong.md:24) did not run as the runbook intends"), verdict.summary
    assert [b.outcome for b in verdict.blocks][2:] == ["failed", "not run"]


@pytest.mark.live
def test_deleting_the_database_is_named_as_the_block_that_broke_recovery(tmp_path: Path) -> None:
    wrong = variant(RIGHT, tmp_path, "df -h .task_orchestrator/server_state/", "df -h .task_orchestrator/server_state/\nrm -f .task_orchestrator/task_orchestrator.db")
    verdict = run_runbook(wrong, INCIDENT, tmp_path / "report", tmp_path / "work")
    assert verdict is not None and not verdict.recovered
    assert verdict.summary.startswith("block 1 (wrong.md:9) broke recovery: "), verdict.summary
    assert "the task database is gone" in verdict.summary

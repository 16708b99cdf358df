"""What an operator hands over, end to end: a field .task_orchestrator/ (here a tarball of the directory a live run of
a hung task left behind: a restart that timed out, RESTART_004) and a Markdown runbook. The importer makes the
scenario that reproduces it, its fault left injected since the incident ended unresolved, and the runbook run
against that scenario gets a verdict, block by block."""

from __future__ import annotations

from pathlib import Path

import pytest

from chaos.incident.cli import import_incident
from chaos.runbook.cli import run_runbook

from .support import RUNBOOKS

FIELD = Path(__file__).parent / "field" / "hung-task.tar.gz"


@pytest.mark.live
def test_a_field_directory_and_a_runbook_give_a_scenario_and_a_verdict(tmp_path: Path) -> None:
    # redacted: the field's task titles would otherwise be the harness's own, which the replay's fault makes again
    written = import_incident(FIELD, tmp_path / "imported", "hung-task-field", redact=True)
    text = written.scenario.read_text()
    assert "error_code: RESTART_004" in text and "inject: hung_task" in text and "heal:" not in text

    verdict = run_runbook(RUNBOOKS / "hung-task.md", written.scenario, tmp_path / "report", tmp_path / "work")
    assert verdict is not None and verdict.recovered, verdict and verdict.summary
    assert [b.outcome for b in verdict.blocks] == ["passed"] * 4
    assert "restart done: RESTART_004" in (tmp_path / "report" / "runbook.md").read_text()  # the field's restart, replayed

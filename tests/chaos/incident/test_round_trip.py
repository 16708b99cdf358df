"""Round trip: a run leaves a field directory, the importer makes it a scenario, and the scenario
reproduces the same restarts with the same error codes in the same order."""

from __future__ import annotations

import json
from pathlib import Path

import anyio
import pytest

from chaos.engine import RunOptions, run_scenario
from chaos.incident.cli import import_incident
from chaos.scenario import load_scenario

FIELD_STORY = """
name: field-day
description: what happened in the field - a full disk, a worker that died, an emergency restart
invariants: {phase_settled: false}
steps:
  - start: {tasks: 2}
  - restart: {}
  - inject: disk_full
  - restart: {reason: configuration_update}
    error_code: RESTART_005
  - heal: disk_full
  - kill_worker: SIGKILL
    save: {dead: pid}
  - wait: orchestrator_health_check
    until: {worker_pid: {not_equals: "${saved.dead}"}}
  - restart: {graceful: false, preserve_state: false, reason: emergency_shutdown}
"""


def history(base: Path) -> list[tuple]:
    lines = (base / ".task_orchestrator" / "server_state" / "restart_history.jsonl").read_text().splitlines()
    return [(e["reason"], e["success"], e["error_code"], e["graceful"], e["preserve_state"]) for e in map(json.loads, lines)]


def run(path: Path, workdir: Path) -> Path:
    loaded = load_scenario(path)
    assert loaded.ok, loaded.problems
    result = anyio.run(run_scenario, loaded, RunOptions(workdir=workdir, keep=True))
    assert result.outcome == "passed", result.report()
    return Path(result.kept_dir) / "base"


@pytest.mark.live
def test_the_imported_scenario_reproduces_the_field_incident(tmp_path: Path) -> None:
    story = tmp_path / "field-day.yaml"
    story.write_text(FIELD_STORY)
    field = run(story, tmp_path / "field-run")
    observed = history(field)
    assert [code for _, _, code, _, _ in observed] == [None, "RESTART_005", None, None]  # the recovery, then the emergency restart

    written = import_incident(field / ".task_orchestrator", tmp_path / "imported", "field-day-imported")
    text = written.scenario.read_text()
    assert "inject: disk_full" in text and "kill_worker: SIGKILL" in text
    replay = run(written.scenario, tmp_path / "replay-run")

    assert history(replay) == observed

"""The catalogue's imported incident is the importer's round trip: scenarios/incidents/database-connection-issues-imported.yaml
is what `chaos incident import` makes of the directory a live run of scenarios/guide/database-connection-issues/database-connection-issues.yaml
left behind (its database and state files are the scenario's fixture; its restart history and log are kept in
tests/chaos/incident/field/), and replayed it restarts as the field did: the same error codes, in the same order."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import anyio
import pytest
import yaml

from chaos.engine import RunOptions, run_scenario
from chaos.incident.cli import import_incident
from chaos.scenario import load_scenario

REPO = Path(__file__).resolve().parents[3]
NAME = "database-connection-issues-imported"
SCENARIO = REPO / "scenarios" / "incidents" / f"{NAME}.yaml"
FIXTURE = REPO / "scenarios" / "incidents" / f"{NAME}.fixture"
FIELD = Path(__file__).parent / "field" / "database-connection-issues"


def restarts(history: Path) -> list[tuple]:
    """What each restart was and how it ended, as restart_history.jsonl records it."""
    entries = map(json.loads, history.read_text().splitlines())
    return [(e["reason"], e["graceful"], e["preserve_state"], e["success"], e["error_code"]) for e in entries]


def field_directory(base: Path) -> Path:
    """The field's .task_orchestrator/ again: the fixture's files, the restart history and the log."""
    root = base / ".task_orchestrator"
    shutil.copytree(FIXTURE, root)
    shutil.copyfile(FIELD / "restart_history.jsonl", root / "server_state" / "restart_history.jsonl")
    (root / "logs").mkdir()
    shutil.copyfile(FIELD / "server.log", root / "logs" / "server.log")
    return root


def story(path: Path) -> dict:
    data = yaml.safe_load(path.read_text())
    return {key: data.get(key) for key in ("steps", "invariants", "finally")}


def test_the_catalogue_scenario_is_what_the_importer_makes_of_the_field_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "UTC")  # the field's log was written in UTC local time, and is read as local time
    time.tzset()
    try:
        written = import_incident(field_directory(tmp_path / "field"), tmp_path / "out", NAME)
    finally:
        monkeypatch.undo()
        time.tzset()
    assert story(written.scenario) == story(SCENARIO)
    assert sorted(p.name for p in written.fixture.rglob("*")) == sorted(p.name for p in FIXTURE.rglob("*"))


def test_the_field_incident_had_failed_restarts_to_reproduce() -> None:
    codes = [code for *_, code in restarts(FIELD / "restart_history.jsonl")]
    assert codes == ["RESTART_003", None, "RESTART_008", None, None, "RESTART_008", None, None]


@pytest.mark.live
def test_replayed_it_restarts_as_the_field_did(tmp_path: Path) -> None:
    loaded = load_scenario(SCENARIO)
    assert loaded.ok, loaded.problems
    result = anyio.run(run_scenario, loaded, RunOptions(workdir=tmp_path, keep=True))
    assert result.outcome == "passed", result.report()
    replayed = Path(result.kept_dir) / "base" / ".task_orchestrator" / "server_state" / "restart_history.jsonl"
    assert restarts(replayed) == restarts(FIELD / "restart_history.jsonl")

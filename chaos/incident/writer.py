"""The imported scenario: a fixture of the field's files, and a YAML story with the reasons as comments.

The YAML is written as text (not dumped) so that each inferred fault carries its reason, and the
file says at the top how it was made, what was guessed and how to turn it into a regression test.
Values are written as JSON, which is YAML.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

from chaos.incident import redact as redaction
from chaos.incident.evidence import Evidence
from chaos.incident.inference import Event, Injection, Story
from chaos.scenario.schema import SCHEMA_PATH
from orchestrator.snapshot import SnapshotInvalid, verify_file

REGRESSION_HINT = (
    "To turn it into a regression test once the cause is fixed: keep the faults, and change each restart's "
    "error_code to the outcome the fix gives (remove it where the restart should now succeed)."
)


@dataclass
class Written:
    scenario: Path
    fixture: Path
    guesses: list[str]
    notes: list[str] = field(default_factory=list)


def write(evidence: Evidence, story: Story, out: Path, name: str, source: str, redact: bool) -> Written:
    scenario_path, fixture = out / f"{name}.yaml", out / f"{name}.fixture"
    out.mkdir(parents=True, exist_ok=True)
    notes = _fixture(evidence, fixture, redact)
    switches = _invariants(evidence, story, fixture)
    guesses = story.guesses + [f"invariant {name} is off: {why}" for name, why in switches.items()]
    lines = _header(scenario_path, source, guesses, redact)
    lines += [f"name: {name}", "description: >-", f"  Field incident imported from {source}: {_summary(story)}."]
    codes = sorted({e.restart.error_code for e in story.events if e.restart and e.restart.error_code})
    if codes:  # each is expected exactly at the restart that got it in the field: evidence, not a claim
        lines.append(f"covers: {{error_codes: [{', '.join(codes)}]}}")
    lines += ["tags: [incident, imported]", "not_in_sim: the faults of a field incident are injected for real", ""]
    if switches:
        lines.append("invariants:")
        lines += [f"  {invariant}: false  # {why}" for invariant, why in switches.items()]
    lines += ["steps:", "  - name: start from the field's files (a copy; the originals are never touched)", f"    start: {{fixture: {json.dumps(fixture.name)}}}"]
    for index, event in enumerate(story.events, 1):
        lines += _event(index, event, unresolved=index == len(story.events) and _failed(event))
    scenario_path.write_text("\n".join(lines) + "\n")
    return Written(scenario_path, fixture, guesses, notes)


def _header(path: Path, source: str, guesses: list[str], redact: bool) -> list[str]:
    lines = []
    if path.resolve().is_relative_to(SCHEMA_PATH.parent):  # in the catalogue: editors complete and check keys
        lines.append(f"# yaml-language-server: $schema={os.path.relpath(SCHEMA_PATH, path.parent.resolve())}")
    lines += [
        f"# Imported by `python -m chaos incident import` from {source}{' (redacted)' if redact else ''}.",
        "# It reproduces the incident as it happened: the restarts of restart_history.jsonl in order, each",
        "# expecting the error code it got in the field, after the fault that caused it.",
        *textwrap.wrap(REGRESSION_HINT, 100, initial_indent="# ", subsequent_indent="# "),
        "#",
    ]
    lines += ["# Guessed (the field directory did not say):"] + [f"#   - {guess}" for guess in guesses] if guesses else ["# Nothing was guessed."]
    return [*lines, ""]


def _summary(story: Story) -> str:
    restarts = [e.restart for e in story.events if e.restart]
    failed = [r.error_code or "failed" for r in restarts if not r.success]
    kills = sum(1 for e in story.events if e.killed_worker)
    text = f"{len(restarts)} restart(s), {len(failed)} failed ({', '.join(failed) or 'none'})"
    return text + (f", {kills} worker death(s)" if kills else "")


def _failed(event: Event) -> bool:
    return event.restart is not None and not event.restart.success


def _event(index: int, event: Event, unresolved: bool = False) -> list[str]:
    """The event's steps; the faults of a failed restart that ended the incident stay injected (`unresolved`)."""
    if event.killed_worker:
        return [
            "",
            f"  - name: the worker dies ({event.killed_worker})",
            "    kill_worker: SIGKILL",
            f"    save: {{killed_{index}: pid}}",
            "  - name: the supervisor replaces it",
            "    wait: orchestrator_health_check",
            f"    until: {{worker_pid: {{not_equals: \"${{saved.killed_{index}}}\"}}}}",
            "    timeout: 60",
        ]
    restart = event.restart
    assert restart is not None
    before = [injection for injection in event.injections if "at_phase" not in injection.params]
    during = [injection for injection in event.injections if "at_phase" in injection.params]
    lines = [""]
    for injection in before:
        lines += _inject(index, injection, "  ")
    arguments = {
        key: value
        for key, value in (("graceful", restart.graceful), ("preserve_state", restart.preserve_state), ("timeout", event.timeout), ("reason", restart.reason))
        if value is not None
    }
    when = restart.at.isoformat(timespec="seconds") if restart.at else "time unknown"
    outcome = restart.error_code or ("success" if restart.success else "failed, no code")
    step = [f"- name: restart {index} as in the field ({when}, {outcome})", f"  restart: {json.dumps(arguments)}"]
    if restart.error_code:
        step.append(f"  error_code: {restart.error_code}")
    elif not restart.success:
        step.append("  expect: {success: false}")
    if during:  # a fault that waits for a phase of the restart runs beside it
        lines += ["  - parallel:", "      restart:", *(f"        {line}" for line in step), "      fault:"]
        for injection in during:
            lines += _inject(index, injection, "        ")
    else:
        lines += [f"  {line}" for line in step]
    if unresolved and event.injections:
        lines.append("  # The incident ended here, unresolved: its faults stay injected, so that a runbook run against")
        lines.append("  # this scenario (python -m chaos runbook RUNBOOK.md --incident THIS.yaml) starts where the field was.")
    else:
        lines += [f"  - heal: restart_{index}_{injection.fault}" for injection in event.injections]
    return lines


def _inject(index: int, injection: Injection, indent: str) -> list[str]:
    lines = [f"{indent}# {injection.why}", f"{indent}- inject: {injection.fault}", f"{indent}  as: restart_{index}_{injection.fault}"]
    if injection.params:
        lines.append(f"{indent}  params: {json.dumps(injection.params)}")
    return lines


def _fixture(evidence: Evidence, fixture: Path, redact: bool) -> list[str]:
    """Copy the database and state files (plain files only) into the fixture; redact the copies if asked."""
    notes = []
    (fixture / "server_state").mkdir(parents=True)
    for path in evidence.database:
        shutil.copyfile(path, fixture / path.name)
    for path in evidence.state_files:
        shutil.copyfile(path, fixture / "server_state" / path.name)
    if redact:
        database = fixture / "task_orchestrator.db"
        if database.exists():
            try:
                redaction.redact_database(database)
                notes.append("task_orchestrator.db: task text redacted, vacuumed")
            except sqlite3.DatabaseError as exc:
                database.unlink()
                notes.append(f"task_orchestrator.db could not be redacted ({exc}); left out of the fixture")
        notes += [redaction.redact_state_file(path) for path in sorted((fixture / "server_state").iterdir())]
    return notes


def _invariants(evidence: Evidence, story: Story, fixture: Path) -> dict[str, str]:
    """End-of-run checks the incident as it happened breaks, each with why."""
    switches = {}
    restarts = [e.restart for e in story.events if e.restart]
    if restarts and not restarts[-1].success:
        switches["phase_settled"] = "the incident ended with a failed restart, so the phase stays 'failed'"
    database = fixture / "task_orchestrator.db"
    if database.exists() and not _intact(database):
        switches["database_integrity"] = "the field's database fails PRAGMA integrity_check"
    current = fixture / "server_state" / "current_state.json"
    if current.exists() and not any(r.success and r.preserve_state for r in restarts):
        try:
            verify_file(current)
        except (SnapshotInvalid, OSError, ValueError):
            switches["snapshot_valid"] = "the field's current_state.json is invalid and no restart of the story rewrites it"
    return switches


def _intact(database: Path) -> bool:
    try:
        connection = sqlite3.connect(database)  # the fixture's own copy
        try:
            return connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        finally:
            connection.close()
    except sqlite3.DatabaseError:
        return False

"""The journal of a run: every step and call with times and outcomes, the phases seen, the faults.

All times are wall-clock seconds since the scenario started, so the orchestrator's own
timestamps (restart `phases[].at`, ISO) line up with the harness's on one axis. The journal is the
single source the reports (JUnit, HTML) are rendered from.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from chaos.verdict.checks import History, Verdict
from orchestrator import __version__, clock

JOURNAL_VERSION = 1
REPORTS = Path("reports")  # where runs write their reports unless told


def iso(moment: float | None = None) -> str:
    return datetime.fromtimestamp(moment if moment is not None else clock.utc_now().timestamp(), UTC).isoformat()


def seconds_since(t0: float, stamp: str) -> float | None:
    try:
        return round(datetime.fromisoformat(stamp).timestamp() - t0, 4)
    except (TypeError, ValueError):
        return None


@dataclass
class StepRecord:
    loc: str
    kind: str
    label: str
    line: int
    started_s: float
    ended_s: float | None = None
    outcome: str = "running"  # passed | failed | error | skipped
    message: str = ""
    result: Any = None
    proves: list[str] = field(default_factory=list)  # guide ids and error codes its assertions prove
    trace: dict[str, Any] | None = None  # what the step saw, in terms sim and live must agree on (step_trace)

    def public(self) -> dict[str, Any]:
        result = self.result
        if result is not None and len(json.dumps(result, default=str)) > 2000:
            result = {"truncated": json.dumps(result, default=str)[:2000]}
        return {**self.__dict__, "result": result}


def fallback_reason(record: StepRecord) -> str | None:
    """Why the fault a step injected is not the real thing (None: real, or not an injection)."""
    result = record.result if record.kind == "inject" and isinstance(record.result, dict) else {}
    return (result.get("fallback_reason") or "not real") if result.get("real") is False else None


COUNTED = ("tasks", "subtasks", "jobs")  # lists whose length a step's trace keeps


def step_trace(tool: str | None, result: Any) -> dict[str, Any]:
    """The part of a step's result that does not depend on time, pids, ids or paths: the tool, whether it
    succeeded, the error code, the restart phases passed, and the data counts. Sim mode and live mode
    run the same code, so a scenario gives the same trace in both (tests/chaos/target/sim/test_parity.py)."""
    trace: dict[str, Any] = {"tool": tool}
    if not isinstance(result, dict):
        return trace
    if "success" in result:
        trace["success"] = result["success"]
    elif "is_error" in result:
        trace["success"] = not result["is_error"]
    elif "exit_code" in result:
        trace["exit_code"] = result["exit_code"]
    if result.get("error_code") is not None:
        trace["error_code"] = result["error_code"]
    if isinstance(result.get("phases"), list):
        trace["phases"] = [p.get("phase") for p in result["phases"] if isinstance(p, dict)]
    counts = {key: len(result[key]) for key in COUNTED if isinstance(result.get(key), list)}
    if isinstance(result.get("total"), int):
        counts["total"] = result["total"]
    if counts:
        trace["counts"] = counts
    return trace


@dataclass
class ScenarioJournal:
    name: str
    file: str
    description: str = ""
    covers: dict[str, list[str]] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    t0: float = field(default_factory=lambda: clock.utc_now().timestamp())
    steps: list[StepRecord] = field(default_factory=list)
    restarts: list[dict[str, Any]] = field(default_factory=list)
    phase_polls: list[dict[str, Any]] = field(default_factory=list)
    faults: list[dict[str, Any]] = field(default_factory=list)
    notes: list[dict[str, Any]] = field(default_factory=list)

    def now(self) -> float:
        return round(clock.utc_now().timestamp() - self.t0, 4)

    def step_started(self, loc: str, kind: str, label: str, line: int, proves: list[str] | None = None) -> StepRecord:
        record = StepRecord(loc, kind, label, line, self.now(), proves=proves or [])
        self.steps.append(record)
        return record

    def step_finished(
        self, record: StepRecord, outcome: str, message: str = "", result: Any = None, tool: str | None = None
    ) -> None:
        record.ended_s, record.outcome, record.message, record.result = self.now(), outcome, message, result
        record.trace = step_trace(tool, result)

    def note(self, text: str) -> None:
        self.notes.append({"at_s": self.now(), "text": text})

    def observe(self, tool: str, response: dict[str, Any]) -> None:
        """Keep what the timeline needs from a response: a restart's phases, a polled phase."""
        phases = response.get("phases")
        if tool == "orchestrator_restart_server" and isinstance(phases, list):
            self.restarts.append(
                {
                    "success": response.get("success"),
                    "error_code": response.get("error_code"),
                    "graceful": response.get("graceful"),
                    "started_s": seconds_since(self.t0, response.get("started_at")),
                    "completed_s": seconds_since(self.t0, response.get("completed_at")),
                    "phases": [
                        {"phase": p.get("phase"), "at_s": seconds_since(self.t0, p.get("at")), "message": p.get("message")}
                        for p in phases
                        if isinstance(p, dict)
                    ],
                }
            )
        status = response.get("current_status")
        if isinstance(status, dict) and "phase" in status:
            self.phase_polls.append(
                {"at_s": self.now(), "phase": status["phase"], "maintenance_mode": status.get("maintenance_mode")}
            )

    def fault_injected(self, handle: str, injection: dict[str, Any]) -> dict[str, Any]:
        entry = {"as": handle, "injected_s": self.now(), "healed_s": None, **injection}
        self.faults.append(entry)
        return entry

    def fault_healed(self, entry: dict[str, Any], injection: dict[str, Any]) -> None:
        entry.update(injection)
        entry["healed_s"] = self.now()

    def public(
        self, history: History, verdicts: list[Verdict], outcome: str, failures: list[dict[str, Any]], duration_s: float
    ) -> dict[str, Any]:
        return {
            "name": self.name,
            "file": self.file,
            "description": self.description,
            "covers": self.covers,
            "tags": self.tags,
            "started_at": iso(self.t0),
            "duration_s": round(duration_s, 3),
            "outcome": outcome,
            "failures": failures,
            "steps": [step.public() for step in self.steps],
            "calls": [record.public(self.t0) for record in history.records],
            "call_outcomes": history.counts(),
            "restarts": self.restarts,
            "phase_polls": self.phase_polls,
            "faults": self.faults,
            "fallbacks": [
                {"as": f["as"], "fault": f.get("fault"), "reason": f.get("fallback_reason")} for f in self.faults if not f.get("real")
            ],
            "invariants": [verdict.public() for verdict in verdicts],
            "notes": self.notes,
        }


def default_directory() -> Path:
    """Where a run's journal and reports go unless told: reports/<UTC time>/."""
    return REPORTS / datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")


@dataclass
class RunInfo:
    """What a whole run was: enough to run it again (the command, and in sim mode the seed)."""

    command: str
    started: float  # epoch seconds (the simulated epoch in sim mode)
    duration_s: float
    mode: str = "live"
    seed: int | None = None


def write_journal(path: Path, info: RunInfo, scenarios: list[dict[str, Any]]) -> None:
    document = {
        "version": JOURNAL_VERSION,
        "project_version": __version__,
        "command": info.command,
        "mode": info.mode,
        "seed": info.seed,
        "started_at": iso(info.started),
        "duration_s": round(info.duration_s, 3),
        "scenarios": scenarios,
    }
    path.write_text(json.dumps(document, indent=1, default=str) + "\n")

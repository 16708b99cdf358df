"""The checker: the workload's call history against the database, which is the ground truth.

A call is invoked, then answered with success (ok), answered with a failure (fail: a definite
answer that nothing was done), or not answered (indeterminate: it may or may not have been
applied). The database, read after the run, says what was applied: the idempotency table holds
the key of every mutating call that took effect (until the orchestrator prunes it past its newest
keys: then a missing key is no evidence, and the end-of-run invariants judge the call by its effect
on the task), tasks carry the titles and sessions the client names the workload gave them. From
the two:

- lost: answered ok, yet not applied (its key, or its task or session, is absent);
- doubled: one call applied twice (two tasks with one title, two sessions with one client name);
- phantom: answered as failed, yet applied;
- stale read: a lookup by title, invoked after the task's creation was acknowledged, that did not find it;
- error codes: every failure must carry a documented code (RESTART_001..008), and one that an event
  of the nemesis running at that moment allows; `unknown tool` and undocumented errors never pass;
- availability: the share of calls answered with success; at most `max_failed` of them may fail.

Latency (p50, p99) of successful calls is given inside and outside the nemesis's windows.
"""

from __future__ import annotations

import math
import sqlite3
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chaos.verdict.checks import CallRecord
from orchestrator.errors import ErrorCode
from orchestrator.table_copy import IDEMPOTENCY_KEYS_KEPT

DOCUMENTED = frozenset(error.code for error in ErrorCode)
PLAN, SESSION, QUERY = "orchestrator_plan_task", "orchestrator_initialize_session", "orchestrator_query_tasks"
KEY = "idempotency_key"
EXAMPLES = 10
DEFAULT_MAX_FAILED = 0.001


@dataclass(frozen=True)
class Window:
    """When one nemesis event ran (from its first step until the orchestrator served again), and
    which error codes a call may get meanwhile; times as the history records them."""

    event: str
    opened: float
    closed: float
    codes: tuple[str, ...]

    def overlaps(self, record: CallRecord) -> bool:
        ended = record.completed_at if record.completed_at is not None else float("inf")
        return record.invoked_at <= self.closed and ended >= self.opened


@dataclass
class Applied:
    """What the database says was applied: keys (with their tool), task titles, session names."""

    keys: dict[str, str] = field(default_factory=dict)
    titles: Counter[str] = field(default_factory=Counter)
    sessions: Counter[str] = field(default_factory=Counter)

    @property
    def keys_may_be_pruned(self) -> bool:
        """A worker keeps only the newest keys when it activates: past that many, absence proves nothing."""
        return len(self.keys) >= IDEMPOTENCY_KEYS_KEPT


def read_database(path: Path) -> Applied:
    """Read-only, after the orchestrator has stopped; no database file means nothing was applied."""
    if not path.exists():
        return Applied()
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return Applied(
            keys=dict(connection.execute("SELECT key, tool FROM idempotency").fetchall()),
            titles=Counter(title for (title,) in connection.execute("SELECT title FROM tasks WHERE parent_id IS NULL")),
            sessions=Counter(name for (name,) in connection.execute("SELECT client_name FROM sessions")),
        )
    finally:
        connection.close()


@dataclass
class Finding:
    rule: str  # lost | doubled | phantom | stale_read | unknown_tool | undocumented_code | code_not_allowed | failure_rate
    call: int | None
    detail: str


@dataclass
class Verdict:
    calls: int
    acked: int
    failed: int
    indeterminate: int
    availability: float
    failure_rate: float
    max_failed: float
    counts: dict[str, int]  # per rule
    findings: list[Finding]  # the first few of each rule
    latency: dict[str, dict[str, float | int | None]]
    error_codes: dict[str, int]

    @property
    def passed(self) -> bool:
        return not any(self.counts.values())

    def public(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "calls": self.calls,
            "acked": self.acked,
            "failed": self.failed,
            "indeterminate": self.indeterminate,
            "availability": round(self.availability, 6),
            "failure_rate": round(self.failure_rate, 6),
            "max_failed": self.max_failed,
            **self.counts,
            "error_codes": self.error_codes,
            "latency_s": self.latency,
            "findings": [finding.__dict__ for finding in self.findings],
        }


def check(records: list[CallRecord], applied: Applied, windows: list[Window], max_failed: float = DEFAULT_MAX_FAILED) -> Verdict:
    findings: list[Finding] = []
    findings += _lost_and_phantom(records, applied)
    findings += _doubled(records, applied)
    findings += _stale_reads(records)
    findings += _error_codes(records, windows)
    outcomes = Counter(record.outcome for record in records)
    calls = len(records)
    failure_rate = outcomes["fail"] / calls if calls else 0.0
    if failure_rate > max_failed:
        findings.append(Finding("failure_rate", None, f"{outcomes['fail']} of {calls} calls failed ({failure_rate:.2%}), more than {max_failed:.2%}"))
    counts = Counter(finding.rule for finding in findings)
    return Verdict(
        calls=calls,
        acked=outcomes["ok"],
        failed=outcomes["fail"],
        indeterminate=outcomes["indeterminate"],
        availability=outcomes["ok"] / calls if calls else 1.0,
        failure_rate=failure_rate,
        max_failed=max_failed,
        counts={rule: counts[rule] for rule in RULES},
        findings=_first_of_each(findings),
        latency=latency(records, windows),
        error_codes=dict(sorted(Counter(_code(record) for record in records if record.outcome == "fail").items())),
    )


RULES = ("lost", "doubled", "phantom", "stale_read", "unknown_tool", "undocumented_code", "code_not_allowed", "failure_rate")


def _applied_count(record: CallRecord, applied: Applied) -> int:
    """How many times the database shows this call applied (creations can be counted, others 0 or 1)."""
    arguments = record.arguments
    if record.tool == PLAN:
        return applied.titles[arguments["title"]]
    if record.tool == SESSION:
        return applied.sessions[arguments["client_name"]]
    return int(applied.keys.get(arguments[KEY]) == record.tool)


def _mutating(records: Iterable[CallRecord]) -> Iterable[CallRecord]:
    return (record for record in records if KEY in record.arguments)


def _lost_and_phantom(records: list[CallRecord], applied: Applied) -> list[Finding]:
    findings = []
    for record in _mutating(records):
        times = _applied_count(record, applied)
        if record.outcome == "ok" and times == 0 and not (record.tool not in (PLAN, SESSION) and applied.keys_may_be_pruned):
            findings.append(Finding("lost", record.id, f"{record.tool} by {record.client} acknowledged, not in the database"))
        elif record.outcome == "fail" and times > 0:
            findings.append(Finding("phantom", record.id, f"{record.tool} by {record.client} answered as failed ({_code(record)}), yet applied"))
    return findings


def _doubled(records: list[CallRecord], applied: Applied) -> list[Finding]:
    return [
        Finding("doubled", record.id, f"{record.tool} by {record.client} applied {times} times")
        for record in _mutating(records)
        if record.tool in (PLAN, SESSION) and (times := _applied_count(record, applied)) > 1
    ]


def _stale_reads(records: list[CallRecord]) -> list[Finding]:
    acknowledged = {
        record.arguments["title"]: record.completed_at for record in records if record.tool == PLAN and record.outcome == "ok"
    }
    findings = []
    for record in records:
        title = record.arguments.get("text")
        created = acknowledged.get(title) if record.tool == QUERY else None
        if created is not None and record.outcome == "ok" and created < record.invoked_at and not (record.response or {}).get("total"):
            findings.append(Finding("stale_read", record.id, f"looking up {title!r} after its creation was acknowledged found nothing"))
    return findings


def _code(record: CallRecord) -> str:
    response = record.response or {}
    return str(response.get("error_code") or "none")


def _error_codes(records: list[CallRecord], windows: list[Window]) -> list[Finding]:
    findings = []
    for record in records:
        if record.outcome != "fail":
            continue
        response = record.response or {}
        text = str(response.get("error") or response.get("text") or response)
        code = response.get("error_code")
        if "unknown tool" in text:
            findings.append(Finding("unknown_tool", record.id, f"{record.tool}: {text[:300]}"))
        elif code not in DOCUMENTED:
            findings.append(Finding("undocumented_code", record.id, f"{record.tool} failed without a documented code: {text[:300]}"))
        elif not any(code in window.codes for window in windows if window.overlaps(record)):
            during = [window.event for window in windows if window.overlaps(record)] or ["no event"]
            findings.append(Finding("code_not_allowed", record.id, f"{record.tool}: {code} during {', '.join(during)}: {text[:200]}"))
    return findings


def _first_of_each(findings: list[Finding]) -> list[Finding]:
    shown: Counter[str] = Counter()
    kept = []
    for finding in findings:
        shown[finding.rule] += 1
        if shown[finding.rule] <= EXAMPLES:
            kept.append(finding)
    return kept


def latency(records: list[CallRecord], windows: list[Window]) -> dict[str, dict[str, float | int | None]]:
    """p50 and p99 (nearest rank) of answered calls' durations, inside any window and outside all."""
    inside: list[float] = []
    outside: list[float] = []
    for record in records:
        if record.outcome == "ok" and record.completed_at is not None:
            during = any(window.overlaps(record) for window in windows)
            (inside if during else outside).append(record.completed_at - record.invoked_at)
    return {"inside_restart_windows": _percentiles(inside), "outside_restart_windows": _percentiles(outside)}


def _percentiles(durations: list[float]) -> dict[str, float | int | None]:
    ordered = sorted(durations)

    def rank(share: float) -> float | None:
        return round(ordered[max(0, math.ceil(len(ordered) * share) - 1)], 4) if ordered else None

    return {"calls": len(ordered), "p50": rank(0.5), "p99": rank(0.99)}

"""Judging one simulated run of a schedule: passed, inapplicable, or a finding.

A finding is anything that broke: an invariant, a restart outcome the guide does not document at
that moment, a recovery check, an error of the harness or the orchestrator, a run that hangs. A
schedule is inapplicable when a precondition step failed: the phase an intrusion waited for never
came, or a fault found nothing to act on (no replacement worker at that phase, a worker already
gone). Those are the compiler's guesses about timing, not the orchestrator's behaviour;
hypothesis discards such schedules.

Concurrent clients' calls are judged by chaos.soak.checker's rules, each against the windows of
the steps it overlaps (chaos.explore.compile): answered, with success or a code allowed then, never
`unknown tool`. The end-of-run invariants already hold them to nothing acknowledged lost.

A finding's signature names what failed in words that stay the same from run to run of one bug
(the kind of step, the error code it got, whether every fault was healed by then), because
hypothesis keeps a shrunk schedule only if it fails with the same signature.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any

from chaos.engine.failure import ScenarioResult
from chaos.explore.compile import ENDING, PRECONDITION
from chaos.explore.outcomes import NO_ANSWER
from chaos.soak.checker import Applied, Window, check
from chaos.verdict.checks import CallRecord

CONCURRENT = "load:"  # the client names of a `load`'s calls

FAILED = ("failed", "error")
TIMEOUT_PREFIX = "scenario timeout"
# End-state invariants hold a story to where its ending leaves it. One cut short by a failed step
# may leave its last restart `failed` (as the guide documents), and the harness gives up on the
# requests still running beside the failed step, which leaves maintenance mode on (a bug
# exploration found: a restart whose request is cancelled never ends). So they count only when no
# step failed; the failed step is then the finding. The data invariants count in every run.
END_STATE = ("phase_settled", "maintenance_off")


@dataclass(frozen=True)
class Verdict:
    outcome: str  # passed | inapplicable | finding
    signature: str = ""  # findings: what failed; inapplicable: which precondition
    report: str = ""  # findings: the run's failure report

    @property
    def found(self) -> bool:
        return self.outcome == "finding"


def judge(result: ScenarioResult, roles: dict[str, str], windows: dict[str, list[str]] | None = None) -> Verdict:
    """`windows`: what a concurrent call may be answered with while each top-level step runs (None: not judged)."""
    if windows is not None and result.outcome != "skipped":
        concurrent = concurrent_finding(result.journal, windows)
        if concurrent:
            return Verdict("finding", concurrent, result.report())
    if result.outcome in ("passed", "skipped"):
        return Verdict("passed")
    step = _failed_step(result.journal["steps"])
    broken = [f.message.split(" broken")[0] for f in result.failures if f.where == "invariant"]
    counted = [name for name in broken if step is None or name not in END_STATE]
    if counted:
        return Verdict("finding", f"invariant {counted[0]} broken", result.report())
    timeout = next((f for f in result.failures if f.message.startswith(TIMEOUT_PREFIX)), None)
    if timeout is not None:
        return Verdict("finding", f"hangs: {timeout.message.split(' during')[0]}", result.report())
    if step is None:
        return Verdict("finding", f"harness error {_error_type(result.failures[0].message)}", result.report())
    role = roles.get(step["loc"])
    if role == PRECONDITION:
        return Verdict("inapplicable", f"{step['loc']} {step['kind']}: {step['message']}")
    prefix = "after every fault was healed, " if role == ENDING else ""
    return Verdict("finding", prefix + _what_failed(step), result.report())


def concurrent_finding(journal: dict[str, Any], windows: dict[str, list[str]]) -> str | None:
    """What the first concurrent call answered wrongly got, in words that name no time or id (None: all fine)."""
    spans = [
        Window(step["loc"], step["started_s"], math.inf if step["ended_s"] is None else step["ended_s"], tuple(windows[step["loc"]]))
        for step in journal["steps"]
        if step["loc"] in windows
    ]
    names = {field.name for field in fields(CallRecord)}
    records = [
        CallRecord(**{key: value for key, value in call.items() if key in names} | {"invoked_at": call["invoked_s"], "completed_at": call["completed_s"]})
        for call in journal["calls"]
        if call["client"].startswith(CONCURRENT)
    ]
    unanswered = [r for r in records if r.outcome != "ok" and r.outcome != "fail" and not _allowed(r, spans, NO_ANSWER)]
    if unanswered:
        return f"a concurrent {unanswered[0].tool} call got no answer"
    verdict = check(records, Applied(), spans, max_failed=1.0)
    rule = next((finding.rule for finding in verdict.findings), None)
    return f"a concurrent call: {rule.replace('_', ' ')}" if rule else None


def _allowed(record: CallRecord, spans: list[Window], code: str) -> bool:
    return any(code in span.codes for span in spans if span.overlaps(record))


def _failed_step(steps: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The innermost step that failed (a failing branch step rather than its parallel step)."""
    failed = [step for step in steps if step["outcome"] in FAILED]
    return max(failed, key=lambda step: step["loc"].count("["), default=None)


def _what_failed(step: dict[str, Any]) -> str:
    kind, result = step["kind"], step["result"]
    if step["outcome"] == "error":
        return f"{kind} raised {_error_type(step['message'])}"
    if kind == "restart":
        if isinstance(result, dict) and "error_code" in result:
            return f"restart gave {result['error_code'] or 'success'}"
        return "restart got no valid answer"
    if kind == "wait":
        return "the killed worker was not replaced"
    return f"{kind} failed"


def _error_type(message: str) -> str:
    """`chaos.faults.base.FaultError: the restart passed ...` -> FaultError."""
    return message.split(":", 1)[0].rsplit(".", 1)[-1]

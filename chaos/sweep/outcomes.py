"""Which outcomes a restart may have when its Nth I/O operation fails or crashes, and why.

The one place the sweep's expectations are written down. An outcome is `success`, an error code
of the guide, `orchestrator died` (the supervisor crashed; recovered by starting it again on the
same files) or `no answer`. Failed operations are keyed by the file they touch, since the same
kind of operation means different things on different files:

  state file (current_state.json, its temp file, a backup, the state directory):
      RESTART_005 "Unable to save server state to disk" - the snapshot could not be made durable,
      so the hand-over must not go on (success would restore stale state); rollback.
  database (task_orchestrator.db, a write transaction's COMMIT):
      RESTART_008 "Database operations failed during restart" - a write the restart needs failed;
      RESTART_005 as well, since SQLite reports a failing disk as "disk I/O error", which the
      worker rightly names a disk problem ("check disk space"); success when the failed write was
      not the restart's own: a job's checkpoint (best effort, written again at suspension) or a
      client's concurrent call (which alone fails, and must then not be applied).
  history (restart_history.jsonl): success - the history records a restart, it is not part of
      it (orchestrator.history: never allowed to break the restart's answer).

RESTART_004 (timeout) is not allowed anywhere: a failing operation fails at once, so running out
of time means something waited for what would never come.

A crash ends the process doing the operation. A worker dying is RESTART_006 "Unable to
start/stop server processes" (or success, if the restart no longer needed that worker), after
which the supervisor replaces it; the supervisor dying takes the orchestrator down, which is
then started again on the files the crash left. Either way the invariants must hold afterwards.
"""

from __future__ import annotations

from chaos.sweep.schedule import Operation
from chaos.sweep.workload import WorkloadReport

SUCCESS, DIED, NO_ANSWER = "success", "orchestrator died", "no answer"
FILE_ROLES = (
    ("history", lambda name: name == "restart_history.jsonl"),
    ("database", lambda name: name.startswith("task_orchestrator.db")),
    ("state file", lambda name: True),
)
ALLOWED_ON_ERROR = {
    "state file": {"RESTART_005"},
    "database": {"RESTART_008", "RESTART_005", SUCCESS},
    "history": {SUCCESS},
}
ALLOWED_ON_CRASH = {SUCCESS, "RESTART_006", DIED}


def role_of(target: str) -> str:
    return next(role for role, matches in FILE_ROLES if matches(target))


def outcome_of(report: WorkloadReport) -> str:
    if report.supervisor_died:
        return DIED
    if report.restart is None:
        return NO_ANSWER
    if report.restart.get("success"):
        return SUCCESS
    return str(report.restart.get("error_code") or "failure without an error code")


def judge(outcome: str, struck: Operation | None, crash: bool) -> str | None:
    """Why `outcome` is not acceptable for a restart whose operation `struck` failed (None: it is)."""
    if struck is None:
        allowed = {SUCCESS}
        why = "no fault was injected"
    elif crash:
        allowed = ALLOWED_ON_CRASH
        why = "a process crashed"
    else:
        role = role_of(struck.target)
        allowed = ALLOWED_ON_ERROR[role]
        why = f"a {struck.kind} of a {role} failed"
    if outcome in allowed:
        return None
    return f"outcome {outcome!r} not allowed when {why} (allowed: {', '.join(sorted(allowed))})"

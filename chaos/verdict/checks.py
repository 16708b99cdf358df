"""What must hold after every scenario, and the call history that the first check is computed from.

Every MCP call a run makes is recorded as invoked, then ok, fail or indeterminate (no answer:
a timeout or a broken connection, so it may or may not have been applied). From that history and
the tasks the orchestrator finally lists, "nothing acknowledged lost, nothing applied twice"
follows: each task a call created and acknowledged must exist, and the tasks of one kind of
request may number no fewer than its acknowledged calls and no more than acknowledged plus
indeterminate ones; and each acknowledged change by the other task tools (execute, complete,
update, cancel, delete, synthesize, start a job) must still show on its task, unless a later call
on that task may have changed it again. The other checks read the files directly (snapshot hash, SQLite integrity) or
the restart status, and look for processes and mounts of the run that outlived it.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from orchestrator import clock
from orchestrator.config import Paths

CREATING_TOOL = "orchestrator_plan_task"
DELETING_TOOL = "orchestrator_delete_task"
TREE_TOOLS = ("orchestrator_cancel_task", "orchestrator_delete_task")  # act on a task and its subtasks
CHANGING_TOOLS = (
    "orchestrator_execute_subtask",
    "orchestrator_complete_subtask",
    "orchestrator_update_task",
    "orchestrator_cancel_task",
    "orchestrator_delete_task",
    "orchestrator_synthesize_results",
    "orchestrator_start_job",
)


# -- the call history ------------------------------------------------------------------------
@dataclass
class CallRecord:
    id: int
    client: str
    tool: str
    arguments: dict[str, Any]
    step: str
    invoked_at: float
    completed_at: float | None = None
    outcome: str = "invoke"  # then ok | fail | indeterminate
    response: dict[str, Any] | None = None
    error: str | None = None

    def public(self, t0: float, response_limit: int = 4000) -> dict[str, Any]:
        record = asdict(self)
        record["invoked_s"] = round(self.invoked_at - t0, 4)
        record["completed_s"] = None if self.completed_at is None else round(self.completed_at - t0, 4)
        text = json.dumps(self.response, default=str)
        if len(text) > response_limit:
            record["response"] = {"truncated": text[:response_limit]}
        return record


@dataclass
class History:
    records: list[CallRecord] = field(default_factory=list)

    def invoke(self, client: str, tool: str, arguments: dict[str, Any], step: str) -> CallRecord:
        record = CallRecord(len(self.records) + 1, client, tool, arguments, step, clock.utc_now().timestamp())
        self.records.append(record)
        return record

    @staticmethod
    def answered(record: CallRecord, response: dict[str, Any], is_error: bool) -> None:
        record.completed_at = clock.utc_now().timestamp()
        record.response = response
        record.outcome = "fail" if is_error or response.get("success") is False else "ok"

    @staticmethod
    def unanswered(record: CallRecord, error: BaseException) -> None:
        record.completed_at = clock.utc_now().timestamp()
        record.outcome = "indeterminate"
        record.error = f"{type(error).__name__}: {error}"

    def counts(self) -> dict[str, int]:
        return dict(Counter(record.outcome for record in self.records))


@dataclass
class Verdict:
    name: str
    ok: bool | None  # None: not checked, and `detail` says why
    detail: str

    def public(self) -> dict[str, Any]:
        return asdict(self)


# -- nothing lost, nothing twice -------------------------------------------------------------
def _request_key(arguments: dict[str, Any]) -> tuple[str, str]:
    return (str(arguments.get("title")), str(arguments.get("description")))


def lost_or_twice(history: History, tasks: list[dict[str, Any]]) -> Verdict:
    """Judge the planned tasks against the calls that planned (and deleted) them."""
    name = "nothing_lost_or_twice"
    present = {task["id"] for task in tasks}
    by_key: Counter[tuple[str, str]] = Counter(
        (str(t.get("title")), str(t.get("description"))) for t in tasks if t.get("parent_id") is None
    )
    deleted: set[str] = set()
    for record in history.records:
        if record.tool == DELETING_TOOL and record.outcome == "ok" and record.response:
            if record.arguments.get("archive") is False:
                deleted.update(record.response.get("affected_task_ids", []))
    problems: list[str] = []
    calls: dict[tuple[str, str], Counter[str]] = {}
    acknowledged = 0
    for record in history.records:
        if record.tool != CREATING_TOOL:
            continue
        key = _request_key(record.arguments)
        calls.setdefault(key, Counter())[record.outcome] += 1
        if record.outcome != "ok" or not record.response:
            continue
        created = [record.response.get("parent_task", {}).get("id")]
        created += [s.get("id") for s in record.response.get("subtasks", [])]
        for task_id in created:
            acknowledged += 1
            if task_id not in present and task_id not in deleted:
                problems.append(f"lost: task {task_id} acknowledged by call #{record.id} ({record.client}) is missing")
        if created[0] in deleted:
            by_key[key] += 1  # counted as present: it was there until a delete took it
    for key, outcomes in calls.items():
        low, high = outcomes["ok"], outcomes["ok"] + outcomes["indeterminate"]
        found = by_key.get(key, 0)
        if not low <= found <= high:
            problems.append(
                f"{found} task(s) titled {key[0]!r}, from {outcomes['ok']} acknowledged, "
                f"{outcomes['indeterminate']} indeterminate and {outcomes['fail']} failed call(s): "
                + ("applied twice, or applied though the call failed" if found > high else "acknowledged but lost")
            )
    lost_changes, changes = lost_updates(history, tasks, deleted)
    problems += lost_changes
    if problems:
        return Verdict(name, False, "; ".join(problems[:10]) + (f" (+{len(problems) - 10} more)" if len(problems) > 10 else ""))
    total = sum(sum(c.values()) for c in calls.values())
    return Verdict(
        name,
        True,
        f"{acknowledged} acknowledged task(s) present once each; {total} planning call(s) accounted for; "
        f"{changes} acknowledged change(s) to tasks still in effect",
    )


# What an acknowledged call of each changing tool leaves on a task: (task id, holds on the final
# task, what it should show). Checked only for the last call changing that task, and only if no
# other call on it overlapped (a later change may undo an earlier one; that is no loss).
Effect = tuple[str, Callable[[dict[str, Any]], bool], str]


def _effects(record: CallRecord) -> list[Effect]:
    args, response = record.arguments, record.response or {}
    task_id = str(args.get("task_id"))
    if record.tool == "orchestrator_execute_subtask":
        return [(task_id, lambda t: t["status"] != "pending", "started (not pending)")]
    if record.tool == "orchestrator_complete_subtask":
        summary = args.get("summary")
        return [(task_id, lambda t: t["status"] == "completed" and t.get("summary") == summary, f"completed with summary {summary!r}")]
    if record.tool == "orchestrator_update_task":
        given = {key: args[key] for key in ("title", "description", "status", "priority") if args.get(key) is not None}
        return [(task_id, lambda t: all(t.get(k) == v for k, v in given.items()), f"updated to {given}")]
    if record.tool == "orchestrator_cancel_task":
        return [(str(i), lambda t: t["status"] == "cancelled", "cancelled") for i in response.get("cancelled_task_ids", [])]
    if record.tool == "orchestrator_synthesize_results" and response.get("complete"):
        return [(str(args.get("parent_id")), lambda t: t["status"] == "completed" and t.get("result") is not None, "completed with its result")]
    if record.tool == "orchestrator_start_job":
        return [(task_id, lambda t: t.get("job_spec") is not None, "carrying its job")]
    return []


def _touched(record: CallRecord, children: dict[str, list[str]]) -> set[str]:
    """The tasks a call may have changed, whatever its outcome: a cancel or delete with no answer
    to say which (indeterminate) may have changed the task's whole subtree."""
    ids = {str(record.arguments[key]) for key in ("task_id", "parent_id") if key in record.arguments}
    for key in ("cancelled_task_ids", "affected_task_ids"):
        ids.update(map(str, (record.response or {}).get(key, [])))
    if record.response is None and record.tool in TREE_TOOLS:
        pending = list(ids)
        while pending:
            for child in children.get(pending.pop(), []):
                if child not in ids:
                    ids.add(child)
                    pending.append(child)
    return ids


def lost_updates(history: History, tasks: list[dict[str, Any]], deleted: set[str]) -> tuple[list[str], int]:
    """Acknowledged changes (execute, complete, update, cancel, synthesize, start a job) whose effect is
    gone from the final tasks; and how many changes were checked."""
    by_id = {task["id"]: task for task in tasks}
    children: dict[str, list[str]] = {}
    for task in tasks:
        if task.get("parent_id"):
            children.setdefault(task["parent_id"], []).append(task["id"])
    changing = [r for r in history.records if r.tool in CHANGING_TOOLS]
    touching: dict[str, list[CallRecord]] = {}  # task id -> the calls that may have changed it
    for record in changing:
        for task_id in _touched(record, children):
            touching.setdefault(task_id, []).append(record)
    problems, checked = [], 0
    for record in changing:
        if record.outcome != "ok":
            continue
        for task_id, holds, what in _effects(record):
            others = [r for r in touching.get(task_id, []) if r is not record]
            superseded = any(r.invoked_at >= record.invoked_at or r.completed_at is None or r.completed_at > record.invoked_at for r in others)
            if superseded or task_id in deleted:
                continue
            checked += 1
            task = by_id.get(task_id)
            if task is None:
                problems.append(f"lost: task {task_id}, {what} by call #{record.id} ({record.tool}), is missing")
            elif not holds(task):
                seen = {key: task.get(key) for key in ("status", "title", "priority", "summary")}
                problems.append(f"lost: call #{record.id} ({record.tool}) left task {task_id} {what}; it shows {seen}")
    return problems, checked


# -- files -----------------------------------------------------------------------------------
def snapshot_valid(paths: Paths) -> Verdict:
    """current_state.json, if there is one, carries the SHA-256 of the canonical JSON of its other fields."""
    name = "snapshot_valid"
    path = paths.current_state
    try:
        document = json.loads(path.read_bytes())
    except FileNotFoundError:
        return Verdict(name, True, "no current_state.json (no state was preserved)")
    except (OSError, ValueError) as exc:
        return Verdict(name, False, f"{path.name} unreadable: {exc}")
    if not isinstance(document, dict) or not isinstance(document.get("integrity_hash"), str):
        return Verdict(name, False, f"{path.name} has no integrity_hash")
    body = {key: value for key, value in document.items() if key != "integrity_hash"}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    digest = hashlib.sha256(canonical).hexdigest()
    if digest != document["integrity_hash"]:
        return Verdict(name, False, f"{path.name}: integrity_hash {document['integrity_hash'][:12]}... != sha256 {digest[:12]}...")
    return Verdict(name, True, f"{path.name} hash verified ({path.stat().st_size} bytes)")


_INTEGRITY_CHECK = """
import json, sqlite3, sys
connection = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True, timeout=10)
print(json.dumps([row[0] for row in connection.execute("PRAGMA integrity_check")]))
"""


def database_integrity(paths: Paths, namespace_pid: int | None = None) -> Verdict:
    """PRAGMA integrity_check, read-only; inside the orchestrator's mount namespace when it has its own.

    (SQLite resolves /proc/PID/root to our own root, so a confined database is checked from inside.)
    """
    name = "database_integrity"
    if namespace_pid is None:
        if not paths.database.exists():
            return Verdict(name, True, "no database file (nothing was stored)")
        try:
            connection = sqlite3.connect(f"file:{paths.database}?mode=ro", uri=True, timeout=10)
            try:
                rows = [row[0] for row in connection.execute("PRAGMA integrity_check")]
            finally:
                connection.close()
        except sqlite3.Error as exc:
            return Verdict(name, False, f"PRAGMA integrity_check could not run: {exc}")
        return Verdict(name, rows == ["ok"], "PRAGMA integrity_check: " + "; ".join(rows[:5]))
    command = ["nsenter", "--target", str(namespace_pid), "--mount", "--", sys.executable, "-c", _INTEGRITY_CHECK, str(paths.database)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
        rows = json.loads(done.stdout) if done.returncode == 0 else None
    except (OSError, subprocess.TimeoutExpired, ValueError) as exc:
        return Verdict(name, False, f"PRAGMA integrity_check could not run: {exc}")
    if rows is None:
        return Verdict(name, False, f"PRAGMA integrity_check could not run: {done.stderr.strip().splitlines()[-1:]}")
    return Verdict(name, rows == ["ok"], "PRAGMA integrity_check: " + "; ".join(rows[:5]))


# -- the restart status ----------------------------------------------------------------------
def maintenance_off(status: dict[str, Any]) -> Verdict:
    mode = status.get("current_status", {}).get("maintenance_mode")
    return Verdict("maintenance_off", mode is False, f"maintenance_mode is {json.dumps(mode)}")


def phase_settled(status: dict[str, Any]) -> Verdict:
    phase = status.get("current_status", {}).get("phase")
    return Verdict("phase_settled", phase in ("idle", "complete"), f"phase is {phase!r} (idle or complete expected)")


# -- leftovers -------------------------------------------------------------------------------
def no_stray_processes(strays: list[tuple[int, str]], where: str) -> Verdict:
    """`strays`: (pid, command) of the run's processes still running; `where`: how they were looked for."""
    detail = "; ".join(f"pid {pid}: {cmd}" for pid, cmd in strays) or f"none left: {where}"
    return Verdict("no_stray_processes", not strays, detail)


def mounts_under(directory: Path) -> list[str]:
    marker = str(directory)
    points = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        point = line.split()[4]
        if point == marker or point.startswith(marker + "/"):
            points.append(point)
    return points


def no_stray_mounts(directory: Path) -> Verdict:
    points = mounts_under(directory)
    return Verdict("no_stray_mounts", not points, ", ".join(points) or f"nothing mounted under {directory}")

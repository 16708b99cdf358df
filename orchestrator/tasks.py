"""TaskService: the task lifecycle, independent of MCP.

Every argument is checked before anything is touched, and every state rule is checked
inside the transaction that would apply the change, so a refused call changes nothing.
Each mutating call takes an `idempotency_key`; replaying a key returns the first result
and applies nothing (see `TaskStore.run_idempotent`).

Background jobs are persisted here (the jobs row is written in the same transaction as
the task change) but executed by `jobs.JobRunner`: a result carrying `"job"` tells the
caller to `await runner.ensure_running(task_id)`.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Callable, Mapping
from typing import Any

from orchestrator import roles
from orchestrator import rows as db
from orchestrator.errors import OrchestratorError
from orchestrator.job_spec import JobSpecError, parse_job_spec
from orchestrator.jobs import RESUMABLE_STATUSES
from orchestrator.rows import COMPLEXITIES, TASK_STATUSES
from orchestrator.store import TaskStore

MAX_TITLE = 200
MAX_TEXT = 10_000
MAX_SUMMARY = 20_000
MAX_SUBTASKS = 50
MAX_ARTIFACTS = 100
MAX_ARTIFACT_CHARS = 20_000
MAX_KEY = 200
MAX_QUERY_LIMIT = 500
PRIORITY_RANGE = (0, 10)
NEXT_ACTIONS = ("continue", "needs_revision", "blocked", "complete")
SETTABLE_STATUSES = ("pending", "in_progress", "completed", "failed", "cancelled")
RECENT_TASKS = 10

# Which status a task may move to from each status. Archiving is separate (delete_task).
TRANSITIONS: dict[str, frozenset[str]] = {
    "pending": frozenset({"in_progress", "completed", "failed", "cancelled"}),
    "in_progress": frozenset({"pending", "completed", "failed", "cancelled", "interrupted"}),
    "interrupted": frozenset({"pending", "in_progress", "completed", "failed", "cancelled"}),
    "failed": frozenset({"pending", "in_progress", "cancelled"}),
    "completed": frozenset(),
    "cancelled": frozenset(),
    "archived": frozenset(),
}
_SUBTASK_KEYS = frozenset({"title", "description", "specialist_role", "complexity", "job"})
_TASK_ID = re.compile(r"[0-9a-f]{32}")
# Control characters other than tab and newlines, and the bidirectional overrides and isolates
# that make text display in another order than it is stored ("Trojan Source").
_HIDDEN_CHARACTERS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_HIDDEN_IN_LISTS = ("context", "instructions")


class TaskInputError(OrchestratorError, ValueError):
    """A call was refused; nothing changed. The message says what to fix."""


class TaskNotFoundError(TaskInputError):
    """No task has the given id."""


class TaskStateError(TaskInputError):
    """The task's current state does not allow the requested change."""


# -- argument checks ---------------------------------------------------------------------


def _text(name: str, value: Any, max_len: int, *, required: bool = True) -> str | None:
    if value is None and not required:
        return None
    if not isinstance(value, str):
        raise TaskInputError(f"{name} must be a string, got {type(value).__name__}")
    if required and not value.strip():
        raise TaskInputError(f"{name} must not be empty")
    if len(value) > max_len:
        raise TaskInputError(f"{name} is {len(value)} characters; the limit is {max_len}")
    hidden = _HIDDEN_CHARACTERS.search(value)
    if hidden is not None:
        raise TaskInputError(
            f"{name} contains the control character U+{ord(hidden.group()):04X} at position {hidden.start()}; "
            "remove it (tabs and line breaks are fine)"
        )
    return value


def _task_id(value: Any, name: str = "task_id") -> str:
    if not isinstance(value, str) or not _TASK_ID.fullmatch(value):
        raise TaskInputError(f"{name} must be a task id (32 lowercase hex characters), got {value!r}")
    return value


def _choice(name: str, value: Any, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise TaskInputError(f"{name} must be one of {', '.join(choices)}, got {value!r}")
    return value


def _integer(name: str, value: Any, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise TaskInputError(f"{name} must be an integer within {low}..{high}, got {value!r}")
    return value


def _flag(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise TaskInputError(f"{name} must be true or false, got {value!r}")
    return value


def _key(value: Any) -> str | None:
    return None if value is None else _text("idempotency_key", value, MAX_KEY)


def _role(name: str, value: Any) -> str:
    return _choice(name, value, tuple(roles.ROLES))


def _job(name: str, value: Any) -> dict[str, Any]:
    try:
        return parse_job_spec(value).to_dict()
    except JobSpecError as exc:
        raise TaskInputError(f"{name}: {exc}") from exc


def _artifact(index: int, value: Any) -> str | dict[str, Any]:
    name = f"artifacts[{index}]"
    if isinstance(value, str):
        return _text(name, value, MAX_ARTIFACT_CHARS)  # type: ignore[return-value]
    if not isinstance(value, dict):
        raise TaskInputError(f"{name} must be a string or an object, got {type(value).__name__}")
    try:
        encoded = json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise TaskInputError(f"{name} is not plain JSON: {exc}") from exc
    if len(encoded) > MAX_ARTIFACT_CHARS:
        raise TaskInputError(
            f"{name} is {len(encoded)} characters as JSON; the limit is {MAX_ARTIFACT_CHARS}"
        )
    return value


def _subtask(index: int, value: Any) -> dict[str, Any]:
    name = f"subtasks[{index}]"
    if not isinstance(value, Mapping):
        raise TaskInputError(f"{name} must be an object, got {type(value).__name__}")
    unknown = set(value) - _SUBTASK_KEYS
    if unknown:
        raise TaskInputError(f"{name} has unknown keys {sorted(unknown)}; allowed: {sorted(_SUBTASK_KEYS)}")
    spec = {
        "title": _text(f"{name}.title", value.get("title"), MAX_TITLE),
        "description": _text(f"{name}.description", value.get("description", ""), MAX_TEXT, required=False)
        or "",
        "specialist_role": _role(f"{name}.specialist_role", value.get("specialist_role")),
        "complexity": _choice(f"{name}.complexity", value.get("complexity", "moderate"), COMPLEXITIES),
        "job_spec": None,
    }
    if value.get("job") is not None:
        spec["job_spec"] = _job(f"{name}.job", value["job"])
    return spec


# -- state checks (inside transactions) ----------------------------------------------------


def _require(conn: sqlite3.Connection, task_id: str) -> dict[str, Any]:
    task = db.get_task(conn, task_id)
    if task is None:
        raise TaskNotFoundError(f"no task with id {task_id}; orchestrator_query_tasks lists existing tasks")
    return task


def _check_transition(task: Mapping[str, Any], new_status: str) -> None:
    allowed = TRANSITIONS[task["status"]]
    if new_status not in allowed:
        options = ", ".join(sorted(allowed)) or "nothing (final)"
        raise TaskStateError(
            f"task {task['id']} is {task['status']} and cannot become {new_status}; it can become: {options}"
        )


def _refuse_if_job_active(conn: sqlite3.Connection, task: Mapping[str, Any], action: str) -> None:
    job = db.get_job(conn, task["id"])
    if job is not None and job["status"] in RESUMABLE_STATUSES:
        raise TaskStateError(
            f"task {task['id']} has a {job['status']} background job, so it cannot {action}; "
            "the job completes the task itself, or use orchestrator_cancel_task"
        )


_CANCELLABLE = tuple(status for status, targets in TRANSITIONS.items() if "cancelled" in targets)


def _has_work_in_progress(conn: sqlite3.Connection, task_id: str) -> bool:
    task = db.get_task(conn, task_id)
    job = db.get_job(conn, task_id)
    return (task is not None and task["status"] == "in_progress") or (
        job is not None and job["status"] in RESUMABLE_STATUSES
    )


def _activate_job(conn: sqlite3.Connection, task_id: str, job: Mapping[str, Any]) -> None:
    """Make the task's job runnable: continue an interrupted or suspended one, else start afresh."""
    existing = db.get_job(conn, task_id)
    if existing is not None and existing["status"] in ("running", "suspended", "interrupted"):
        db.update_job(conn, task_id, status="running", error=None)
    else:
        db.save_job(conn, task_id, kind=job["kind"], params=job, ignore_suspend=job["ignore_suspend"])


def _listed(task: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in task.items() if k not in _HIDDEN_IN_LISTS}


def _subtask_context(title: str, description: str, specs: list[dict[str, Any]], index: int) -> str:
    siblings = "\n".join(
        f"  {n}. {s['title']} ({s['specialist_role']})" + (" <- this one" if n == index + 1 else "")
        for n, s in enumerate(specs, start=1)
    )
    parts = [f"Part of the task: {title}"]
    if description.strip():
        parts.append(description)
    parts.append(f"Subtask {index + 1} of {len(specs)} in the plan:\n{siblings}")
    return "\n\n".join(parts)


class TaskService:
    """Task operations returning JSON-able dicts; blocking (run them in a worker thread)."""

    def __init__(self, store: TaskStore) -> None:
        self._store = store

    def _apply(
        self,
        key: str | None,
        tool: str,
        fn: Callable[[sqlite3.Connection], dict[str, Any]],
        **arguments: Any,
    ) -> dict[str, Any]:
        """Run `fn` once per key; `arguments` (checked, without the key) bind the key to this call."""
        return self._store.run_idempotent(_key(key), tool, fn, arguments)

    def initialize_session(
        self, client_name: str, working_directory: str | None = None, idempotency_key: str | None = None
    ) -> dict[str, Any]:
        name = _text("client_name", client_name, MAX_TITLE)
        directory = _text("working_directory", working_directory, 4096, required=False)

        def apply(conn: sqlite3.Connection) -> dict[str, Any]:
            session = db.insert_session(conn, name, directory)  # type: ignore[arg-type]
            return {
                "session_id": session["id"],
                "created_at": session["created_at"],
                "roles": [role.to_dict() for role in roles.ROLES.values()],
                "guidance": (
                    "Break work into subtasks with orchestrator_plan_task, giving each a specialist role. "
                    "For each subtask call orchestrator_execute_subtask to receive the specialist's "
                    "instructions, do the work, then report it with orchestrator_complete_subtask. "
                    "When every subtask is done, orchestrator_synthesize_results combines them into the "
                    "parent task's result. orchestrator_get_status shows where everything stands."
                ),
            }

        return self._apply(
            idempotency_key,
            "orchestrator_initialize_session",
            apply,
            client_name=name,
            working_directory=directory,
        )

    def plan_task(
        self,
        title: str,
        description: str,
        subtasks: list[dict[str, Any]],
        complexity: str = "moderate",
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        title = _text("title", title, MAX_TITLE)  # type: ignore[assignment]
        description = _text("description", description, MAX_TEXT, required=False) or ""
        complexity = _choice("complexity", complexity, COMPLEXITIES)
        if not isinstance(subtasks, list) or not 1 <= len(subtasks) <= MAX_SUBTASKS:
            raise TaskInputError(f"subtasks must be a list of 1..{MAX_SUBTASKS} subtasks")
        specs = [_subtask(i, value) for i, value in enumerate(subtasks)]

        def apply(conn: sqlite3.Connection) -> dict[str, Any]:
            parent = db.insert_task(
                conn, title=title, description=description, status="pending", complexity=complexity
            )
            children = [
                db.insert_task(
                    conn,
                    parent_id=parent["id"],
                    status="pending",
                    context=_subtask_context(title, description, specs, i),
                    **spec,
                )
                for i, spec in enumerate(specs)
            ]
            return {
                "parent_task": _listed(parent),
                "subtasks": [_listed(child) for child in children],
                "next_step": f"call orchestrator_execute_subtask with task_id {children[0]['id']}",
            }

        return self._apply(
            idempotency_key,
            "orchestrator_plan_task",
            apply,
            title=title,
            description=description,
            subtasks=specs,
            complexity=complexity,
        )

    def execute_subtask(self, task_id: str, idempotency_key: str | None = None) -> dict[str, Any]:
        task_id = _task_id(task_id)

        def apply(conn: sqlite3.Connection) -> dict[str, Any]:
            task = _require(conn, task_id)
            if task["specialist_role"] is None:
                raise TaskStateError(
                    f"task {task_id} has no specialist role; only subtasks created by "
                    "orchestrator_plan_task can be executed"
                )
            if task["status"] != "in_progress":
                _check_transition(task, "in_progress")
            job = _job("job", task["job_spec"]) if task["job_spec"] is not None else None
            instructions = roles.instructions_for(task["specialist_role"], task)
            db.update_task(conn, task_id, status="in_progress", instructions=instructions)
            if task["parent_id"] is not None:
                db.update_task(conn, task["parent_id"], only_if_status=("pending",), status="in_progress")
            if job is not None:
                _activate_job(conn, task_id, job)
            return {
                "task_id": task_id,
                "title": task["title"],
                "status": "in_progress",
                "specialist": roles.get_role(task["specialist_role"]).to_dict(),
                "context": task["context"],
                "instructions": instructions,
                "job": db.get_job(conn, task_id) if job is not None else None,
            }

        return self._apply(idempotency_key, "orchestrator_execute_subtask", apply, task_id=task_id)

    def start_job(
        self, task_id: str, spec: Mapping[str, Any], idempotency_key: str | None = None
    ) -> dict[str, Any]:
        """Attach background work to an existing task and mark the task in progress."""
        task_id = _task_id(task_id)
        job = _job("job", spec)

        def apply(conn: sqlite3.Connection) -> dict[str, Any]:
            task = _require(conn, task_id)
            _refuse_if_job_active(conn, task, "start another job")
            if task["status"] != "in_progress":
                _check_transition(task, "in_progress")
            db.update_task(conn, task_id, status="in_progress", job_spec=job)
            db.save_job(conn, task_id, kind=job["kind"], params=job, ignore_suspend=job["ignore_suspend"])
            return {"task_id": task_id, "status": "in_progress", "job": db.get_job(conn, task_id)}

        return self._apply(idempotency_key, "orchestrator_start_job", apply, task_id=task_id, job=job)

    def complete_subtask(
        self,
        task_id: str,
        summary: str,
        artifacts: list[str | dict[str, Any]] | None = None,
        next_action: str = "continue",
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        task_id = _task_id(task_id)
        summary = _text("summary", summary, MAX_SUMMARY)  # type: ignore[assignment]
        artifacts = [] if artifacts is None else artifacts
        if not isinstance(artifacts, list) or len(artifacts) > MAX_ARTIFACTS:
            raise TaskInputError(f"artifacts must be a list of at most {MAX_ARTIFACTS} items")
        checked = [_artifact(i, a) for i, a in enumerate(artifacts)]
        next_action = _choice("next_action", next_action, NEXT_ACTIONS)

        def apply(conn: sqlite3.Connection) -> dict[str, Any]:
            task = _require(conn, task_id)
            _check_transition(task, "completed")
            _refuse_if_job_active(conn, task, "be completed by hand")
            db.update_task(
                conn, task_id, status="completed", summary=summary, artifacts=checked, next_action=next_action
            )
            out: dict[str, Any] = {"task_id": task_id, "status": "completed", "next_action": next_action}
            if task["parent_id"] is not None:
                siblings = db.subtasks(conn, task["parent_id"])
                waiting = [s["id"] for s in siblings if s["status"] in ("pending", "interrupted", "failed")]
                out["parent_id"] = task["parent_id"]
                out["subtasks_completed"] = sum(s["status"] == "completed" for s in siblings)
                out["subtasks_total"] = sum(s["status"] != "archived" for s in siblings)
                out["next_subtask_id"] = waiting[0] if waiting else None
            return out

        return self._apply(
            idempotency_key,
            "orchestrator_complete_subtask",
            apply,
            task_id=task_id,
            summary=summary,
            artifacts=checked,
            next_action=next_action,
        )

    def update_task(
        self,
        task_id: str,
        title: str | None = None,
        description: str | None = None,
        status: str | None = None,
        priority: int | None = None,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        task_id = _task_id(task_id)
        changes: dict[str, Any] = {}
        if title is not None:
            changes["title"] = _text("title", title, MAX_TITLE)
        if description is not None:
            changes["description"] = _text("description", description, MAX_TEXT, required=False)
        if status is not None:
            changes["status"] = _choice("status", status, SETTABLE_STATUSES)
        if priority is not None:
            changes["priority"] = _integer("priority", priority, *PRIORITY_RANGE)
        if not changes:
            raise TaskInputError(
                "nothing to update: give at least one of title, description, status, priority"
            )

        def apply(conn: sqlite3.Connection) -> dict[str, Any]:
            task = _require(conn, task_id)
            if task["status"] == "archived":
                raise TaskStateError(f"task {task_id} is archived and cannot be changed")
            if "status" in changes and changes["status"] != task["status"]:
                _check_transition(task, changes["status"])
                _refuse_if_job_active(conn, task, "change status")
            db.update_task(conn, task_id, **changes)
            return {"task": _listed(_require(conn, task_id)), "changed": sorted(changes)}

        return self._apply(idempotency_key, "orchestrator_update_task", apply, task_id=task_id, **changes)

    def cancel_task(
        self, task_id: str, reason: str | None = None, idempotency_key: str | None = None
    ) -> dict[str, Any]:
        """Cancel a task and its unfinished subtasks; their jobs are recorded cancelled."""
        task_id = _task_id(task_id)
        reason = _text("reason", reason, MAX_TEXT, required=False)

        def apply(conn: sqlite3.Connection) -> dict[str, Any]:
            _check_transition(_require(conn, task_id), "cancelled")
            cancelled = []
            for tid in db.task_tree_ids(conn, task_id):
                note = f"cancelled: {reason}" if reason else "cancelled"
                if db.update_task(conn, tid, only_if_status=_CANCELLABLE, status="cancelled", summary=note):
                    cancelled.append(tid)
                db.update_job(
                    conn, tid, only_if_status=(*RESUMABLE_STATUSES, "interrupted"), status="cancelled"
                )
            return {
                "task_id": task_id,
                "status": "cancelled",
                "cancelled_task_ids": cancelled,
                "reason": reason,
            }

        return self._apply(idempotency_key, "orchestrator_cancel_task", apply, task_id=task_id, reason=reason)

    def delete_task(
        self, task_id: str, archive: bool = True, force: bool = False, idempotency_key: str | None = None
    ) -> dict[str, Any]:
        """Archive (default) or permanently delete a task and its subtasks."""
        task_id = _task_id(task_id)
        archive = _flag("archive", archive)
        force = _flag("force", force)

        def apply(conn: sqlite3.Connection) -> dict[str, Any]:
            task = _require(conn, task_id)
            if archive and task["status"] == "archived":
                raise TaskStateError(f"task {task_id} is already archived")
            tree = db.task_tree_ids(conn, task_id)
            busy = [tid for tid in tree if _has_work_in_progress(conn, tid)]
            if busy and not force:
                raise TaskStateError(
                    f"tasks {', '.join(busy)} are in progress; cancel them first or pass force=true"
                )
            for tid in tree:
                db.update_job(conn, tid, only_if_status=RESUMABLE_STATUSES, status="cancelled")
            if archive:
                for tid in tree:
                    db.update_task(conn, tid, status="archived")
            else:
                db.delete_task(conn, task_id)
            return {
                "task_id": task_id,
                "action": "archived" if archive else "deleted",
                "affected_task_ids": tree,
            }

        return self._apply(
            idempotency_key, "orchestrator_delete_task", apply, task_id=task_id, archive=archive, force=force
        )

    def query_tasks(
        self,
        status: str | None = None,
        specialist_role: str | None = None,
        parent_id: str | None = None,
        text: str | None = None,
        include_archived: bool = False,
        limit: int = 50,
        offset: int = 0,
    ) -> dict[str, Any]:
        """A page of tasks, newest first. An explicit status filter overrides include_archived."""
        filters = {
            "status": None if status is None else _choice("status", status, TASK_STATUSES),
            "specialist_role": None if specialist_role is None else _role("specialist_role", specialist_role),
            "parent_id": None if parent_id is None else _task_id(parent_id, "parent_id"),
            "text": _text("text", text, MAX_TITLE, required=False),
            "include_archived": _flag("include_archived", include_archived),
            "limit": _integer("limit", limit, 1, MAX_QUERY_LIMIT),
            "offset": _integer("offset", offset, 0, 2**62),
        }
        tasks, total = self._store.read(lambda conn: db.find_tasks(conn, **filters))
        return {
            "tasks": [_listed(task) for task in tasks],
            "total": total,
            "limit": filters["limit"],
            "offset": filters["offset"],
            "has_more": filters["offset"] + len(tasks) < total,
        }

    def get_status(self) -> dict[str, Any]:
        def gather(conn: sqlite3.Connection) -> dict[str, Any]:
            counts = db.count_tasks_by_status(conn)
            recent, _ = db.find_tasks(conn, limit=RECENT_TASKS)
            jobs = db.jobs_with_status(conn, RESUMABLE_STATUSES)
            return {
                "counts": counts,
                "total": sum(counts.values()),
                "active_jobs": [
                    {k: job[k] for k in ("task_id", "kind", "status", "progress", "updated_at")}
                    for job in jobs
                ],
                "recent_tasks": [
                    {
                        k: task[k]
                        for k in ("id", "title", "status", "specialist_role", "parent_id", "updated_at")
                    }
                    for task in recent
                ],
            }

        return self._store.read(gather)

    def synthesize_results(self, parent_id: str, idempotency_key: str | None = None) -> dict[str, Any]:
        """Combine completed subtasks into the parent's result; complete the parent when all are done."""
        parent_id = _task_id(parent_id, "parent_id")

        def apply(conn: sqlite3.Connection) -> dict[str, Any]:
            parent = _require(conn, parent_id)
            if parent["status"] in ("cancelled", "archived"):
                raise TaskStateError(
                    f"task {parent_id} is {parent['status']}; there is nothing to synthesize"
                )
            children = [c for c in db.subtasks(conn, parent_id) if c["status"] != "archived"]
            if not children:
                raise TaskStateError(f"task {parent_id} has no subtasks to synthesize")
            done = [c for c in children if c["status"] == "completed"]
            remaining = [c["id"] for c in children if c["status"] not in ("completed", "cancelled")]
            result = {
                "summary": "\n".join(f"[{c['specialist_role']}] {c['title']}: {c['summary']}" for c in done),
                "subtasks": [
                    {k: c[k] for k in ("id", "title", "specialist_role", "summary", "artifacts", "result")}
                    for c in done
                ],
                "artifacts": [a for c in done for a in c["artifacts"]],
                "remaining_subtask_ids": remaining,
            }
            complete = not remaining and parent["status"] != "completed"
            if complete:
                _check_transition(parent, "completed")
            fields = {"result": result, "summary": result["summary"], "artifacts": result["artifacts"]}
            db.update_task(conn, parent_id, **fields, **({"status": "completed"} if complete else {}))
            status = "completed" if complete else parent["status"]
            return {"parent_id": parent_id, "status": status, "complete": not remaining, "result": result}

        return self._apply(idempotency_key, "orchestrator_synthesize_results", apply, parent_id=parent_id)

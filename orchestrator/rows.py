"""Row-level SQL of the task store: tasks, jobs and sessions, and the codec of their columns.

Each function takes the connection handed to `TaskStore.read`, `TaskStore.write` or
`TaskStore.run_idempotent` (orchestrator.store), so that a service composes several of them into
one transaction.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Mapping
from typing import Any

from orchestrator import clock, entropy

TASK_STATUSES = ("pending", "in_progress", "completed", "failed", "cancelled", "interrupted", "archived")
JOB_STATUSES = ("running", "suspended", "completed", "failed", "interrupted", "cancelled")
COMPLEXITIES = ("simple", "moderate", "complex", "very_complex")

_JSON_COLUMNS = frozenset({"result", "artifacts", "job_spec", "params", "checkpoint"})
_BOOL_COLUMNS = frozenset({"ignore_suspend"})
_TASK_COLUMNS = frozenset(
    {
        "parent_id", "title", "description", "specialist_role", "status", "complexity", "priority",
        "context", "instructions", "summary", "result", "artifacts", "next_action", "job_spec",
    }
)  # fmt: skip
_JOB_COLUMNS = frozenset({"kind", "params", "progress", "status", "checkpoint", "ignore_suspend", "error"})


def utc_now() -> str:
    return clock.utc_now().isoformat(timespec="microseconds")


def new_id() -> str:
    return entropy.new_id()


# -- row codec ---------------------------------------------------------------------------


def _decode(row: sqlite3.Row | None) -> dict[str, Any] | None:
    if row is None:
        return None
    out: dict[str, Any] = {}
    for column in row.keys():
        value = row[column]
        if column in _JSON_COLUMNS and value is not None:
            value = json.loads(value)
        elif column in _BOOL_COLUMNS:
            value = bool(value)
        out[column] = value
    return out


def _encode(fields: Mapping[str, Any]) -> dict[str, Any]:
    return {
        column: json.dumps(value) if column in _JSON_COLUMNS and value is not None else value
        for column, value in fields.items()
    }


def _update(
    conn: sqlite3.Connection,
    table: str,
    key_column: str,
    key: str,
    allowed: frozenset[str],
    fields: Mapping[str, Any],
    only_if_status: Iterable[str] | None,
) -> bool:
    unknown = set(fields) - allowed
    if unknown:
        raise ValueError(f"not columns of {table}: {sorted(unknown)}")
    values = _encode({**fields, "updated_at": utc_now()})
    sql = f"UPDATE {table} SET {', '.join(f'{c} = ?' for c in values)} WHERE {key_column} = ?"
    params: list[Any] = [*values.values(), key]
    if only_if_status is not None:
        statuses = list(only_if_status)
        sql += f" AND status IN ({', '.join('?' for _ in statuses)})"
        params += statuses
    return conn.execute(sql, params).rowcount > 0


# -- tasks -------------------------------------------------------------------------------


def insert_task(conn: sqlite3.Connection, **fields: Any) -> dict[str, Any]:
    """Insert a task with a fresh id; `fields` are task columns (title and status required)."""
    unknown = set(fields) - _TASK_COLUMNS
    if unknown:
        raise ValueError(f"not columns of tasks: {sorted(unknown)}")
    now = utc_now()
    values = _encode({"id": new_id(), **fields, "created_at": now, "updated_at": now})
    conn.execute(
        f"INSERT INTO tasks ({', '.join(values)}) VALUES ({', '.join('?' for _ in values)})",
        list(values.values()),
    )
    return get_task(conn, values["id"])  # type: ignore[return-value]


def get_task(conn: sqlite3.Connection, task_id: str) -> dict[str, Any] | None:
    return _decode(conn.execute("SELECT * FROM tasks WHERE id = ?", (task_id,)).fetchone())


def update_task(
    conn: sqlite3.Connection, task_id: str, only_if_status: Iterable[str] | None = None, **fields: Any
) -> bool:
    """Set task columns; with `only_if_status`, only while the task is in one of those statuses."""
    return _update(conn, "tasks", "id", task_id, _TASK_COLUMNS, fields, only_if_status)


def subtasks(conn: sqlite3.Connection, parent_id: str) -> list[dict[str, Any]]:
    rows = conn.execute("SELECT * FROM tasks WHERE parent_id = ? ORDER BY rowid", (parent_id,)).fetchall()
    return [_decode(row) for row in rows]  # type: ignore[misc]


def task_tree_ids(conn: sqlite3.Connection, task_id: str) -> list[str]:
    """The task and all of its descendants, parents first."""
    rows = conn.execute(
        """WITH RECURSIVE tree(id, depth) AS (
               SELECT id, 0 FROM tasks WHERE id = ?
               UNION ALL SELECT t.id, tree.depth + 1 FROM tasks t JOIN tree ON t.parent_id = tree.id
           ) SELECT id FROM tree ORDER BY depth""",
        (task_id,),
    ).fetchall()
    return [row[0] for row in rows]


def delete_task(conn: sqlite3.Connection, task_id: str) -> None:
    """Delete a task; its subtasks and jobs go with it (foreign keys cascade)."""
    conn.execute("DELETE FROM tasks WHERE id = ?", (task_id,))


def find_tasks(
    conn: sqlite3.Connection,
    *,
    status: str | None = None,
    specialist_role: str | None = None,
    parent_id: str | None = None,
    text: str | None = None,
    include_archived: bool = False,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[dict[str, Any]], int]:
    """One page of matching tasks, newest first, and the total number that match."""
    clauses: list[str] = []
    params: list[Any] = []
    if status is not None:
        clauses.append("status = ?")
        params.append(status)
    elif not include_archived:
        clauses.append("status != 'archived'")
    if specialist_role is not None:
        clauses.append("specialist_role = ?")
        params.append(specialist_role)
    if parent_id is not None:
        clauses.append("parent_id = ?")
        params.append(parent_id)
    if text is not None:
        pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        clauses.append("(title LIKE ? ESCAPE '\\' OR description LIKE ? ESCAPE '\\')")
        params += [pattern, pattern]
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    total = conn.execute(f"SELECT COUNT(*) FROM tasks {where}", params).fetchone()[0]
    rows = conn.execute(
        f"SELECT * FROM tasks {where} ORDER BY created_at DESC, rowid DESC LIMIT ? OFFSET ?",
        [*params, limit, offset],
    ).fetchall()
    return [_decode(row) for row in rows], total  # type: ignore[misc]


def active_tasks(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    rows = conn.execute(
        """SELECT t.id, t.title, t.status, t.specialist_role, t.parent_id, t.updated_at,
                  j.kind AS job_kind, j.status AS job_status, j.progress AS job_progress
           FROM tasks t LEFT JOIN jobs j ON j.task_id = t.id
           WHERE t.status = 'in_progress' ORDER BY t.created_at, t.rowid"""
    ).fetchall()
    return [dict(row) for row in rows]


def count_tasks_by_status(conn: sqlite3.Connection) -> dict[str, int]:
    counts = dict.fromkeys(TASK_STATUSES, 0)
    for status, n in conn.execute("SELECT status, COUNT(*) FROM tasks GROUP BY status"):
        counts[status] = n
    return counts


# -- jobs --------------------------------------------------------------------------------


def save_job(
    conn: sqlite3.Connection,
    task_id: str,
    *,
    kind: str,
    params: Mapping[str, Any],
    ignore_suspend: bool,
    progress: float = 0.0,
    status: str = "running",
    checkpoint: Mapping[str, Any] | None = None,
) -> None:
    """Create or replace the job attached to a task."""
    values = _encode(
        {
            "task_id": task_id,
            "kind": kind,
            "params": dict(params),
            "progress": progress,
            "status": status,
            "checkpoint": dict(checkpoint) if checkpoint is not None else None,
            "ignore_suspend": int(ignore_suspend),
            "error": None,
            "updated_at": utc_now(),
        }
    )
    conn.execute(
        f"INSERT OR REPLACE INTO jobs ({', '.join(values)}) VALUES ({', '.join('?' for _ in values)})",
        list(values.values()),
    )


def get_job(conn: sqlite3.Connection, task_id: str) -> dict[str, Any] | None:
    return _decode(conn.execute("SELECT * FROM jobs WHERE task_id = ?", (task_id,)).fetchone())


def update_job(
    conn: sqlite3.Connection, task_id: str, only_if_status: Iterable[str] | None = None, **fields: Any
) -> bool:
    """Set job columns; with `only_if_status`, only while the job is in one of those statuses."""
    return _update(conn, "jobs", "task_id", task_id, _JOB_COLUMNS, fields, only_if_status)


def jobs_with_status(conn: sqlite3.Connection, statuses: Iterable[str]) -> list[dict[str, Any]]:
    wanted = list(statuses)
    rows = conn.execute(
        f"SELECT * FROM jobs WHERE status IN ({', '.join('?' for _ in wanted)}) ORDER BY updated_at",
        wanted,
    ).fetchall()
    return [_decode(row) for row in rows]  # type: ignore[misc]


# -- sessions ----------------------------------------------------------------------------


def insert_session(
    conn: sqlite3.Connection, client_name: str, working_directory: str | None
) -> dict[str, Any]:
    now = utc_now()
    session = {
        "id": new_id(),
        "client_name": client_name,
        "working_directory": working_directory,
        "created_at": now,
        "last_activity": now,
    }
    conn.execute(
        "INSERT INTO sessions (id, client_name, working_directory, created_at, last_activity)"
        " VALUES (:id, :client_name, :working_directory, :created_at, :last_activity)",
        session,
    )
    return session

"""The copy of the database a state snapshot carries, and the idempotency window that bounds it.

`dump_tables` writes the rows a snapshot holds (live tasks and their jobs, sessions, the keys of
the window); `load_tables` builds an empty database from such a copy (orchestrator.rebuild).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from orchestrator import clock
from orchestrator.config import ConfigError

# Parents before children, so the copy loads in order with foreign keys on.
SNAPSHOT_TABLES = ("tasks", "jobs", "sessions", "idempotency")

# An idempotency key answers a replay of its call for at least this long, among the newest this
# many keys; a replay older than that is a new call. Keys past it are pruned from the database
# when a worker activates and never copied into a snapshot.
IDEMPOTENCY_WINDOW_ENV = "MCP_TASK_ORCHESTRATOR_IDEMPOTENCY_WINDOW_S"
IDEMPOTENCY_WINDOW_S = 24 * 3600.0
IDEMPOTENCY_KEYS_KEPT = 10_000

# Archived tasks are cold: kept in the database, left out of the snapshot's copy (with their jobs),
# so archiving shrinks the snapshot. An archived ancestor of a live task is copied, or the live
# task's foreign key would not build.
_COPIED_TASKS = """WITH RECURSIVE copied(id) AS (
    SELECT id FROM tasks WHERE status != 'archived'
    UNION SELECT tasks.parent_id FROM tasks JOIN copied ON tasks.id = copied.id WHERE tasks.parent_id IS NOT NULL
) SELECT id FROM copied"""
_IDEMPOTENCY_WINDOW = "SELECT rowid FROM idempotency WHERE created_at >= :since ORDER BY created_at DESC LIMIT :keep"
_SNAPSHOT_ROWS = {
    "tasks": f"SELECT * FROM tasks WHERE id IN ({_COPIED_TASKS}) ORDER BY rowid",
    "jobs": f"SELECT * FROM jobs WHERE task_id IN ({_COPIED_TASKS}) ORDER BY rowid",
    "sessions": "SELECT * FROM sessions ORDER BY rowid",
    "idempotency": f"SELECT * FROM idempotency WHERE rowid IN ({_IDEMPOTENCY_WINDOW}) ORDER BY rowid",
}


def resolve_idempotency_window(raw: str | None) -> float:
    """The window in seconds from `$MCP_TASK_ORCHESTRATOR_IDEMPOTENCY_WINDOW_S` (default 24 h)."""
    if raw is None or not raw.strip():
        return IDEMPOTENCY_WINDOW_S
    try:
        window = float(raw)
    except ValueError:
        window = float("nan")
    if not 0 < window < float("inf"):
        raise ConfigError(f"{IDEMPOTENCY_WINDOW_ENV}={raw!r}: give a positive number of seconds")
    return window


def idempotency_since(window_s: float) -> str:
    """The oldest `created_at` a key of the window may have, now."""
    return (clock.utc_now() - timedelta(seconds=window_s)).isoformat(timespec="microseconds")


def idempotency_keys_outside(conn: sqlite3.Connection, since: str, keep: int = IDEMPOTENCY_KEYS_KEPT) -> int:
    """How many keys are outside the window (older than `since`, or behind `keep` newer ones)."""
    window = {"since": since, "keep": keep}
    return conn.execute(f"SELECT COUNT(*) FROM idempotency WHERE rowid NOT IN ({_IDEMPOTENCY_WINDOW})", window).fetchone()[0]


def prune_idempotency(conn: sqlite3.Connection, since: str, keep: int = IDEMPOTENCY_KEYS_KEPT) -> int:
    """Forget the keys outside the window; how many were forgotten."""
    window = {"since": since, "keep": keep}
    return conn.execute(f"DELETE FROM idempotency WHERE rowid NOT IN ({_IDEMPOTENCY_WINDOW})", window).rowcount


def dump_tables(
    conn: sqlite3.Connection, since: str, keep: int = IDEMPOTENCY_KEYS_KEPT
) -> tuple[dict[str, dict[str, list[Any]]], dict[str, int]]:
    """The rows a snapshot carries, as stored (JSON columns stay text), in rowid order: every task
    but the archived ones (and their jobs), every session, the idempotency keys of the window;
    and how many rows of each table were left out."""
    tables, left_out = {}, {}
    for table in SNAPSHOT_TABLES:
        cursor = conn.execute(_SNAPSHOT_ROWS[table], {"since": since, "keep": keep})
        rows = [list(row) for row in cursor.fetchall()]
        tables[table] = {"columns": [column[0] for column in cursor.description], "rows": rows}
        left_out[table] = conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0] - len(rows)
    return tables, left_out


def load_tables(conn: sqlite3.Connection, tables: Mapping[str, Mapping[str, list[Any]]]) -> dict[str, int]:
    """Insert a snapshot's copy of the tables into empty tables; the number of rows per table.

    Column names are checked against the table's own columns before any SQL is built from them
    (a copy written before a migration lacks the newer columns, which take their defaults); the
    schema's CHECK and foreign key constraints vet the values.
    """
    counts = {}
    for table in SNAPSHOT_TABLES:
        copy = tables.get(table, {"columns": [], "rows": []})
        known = {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}
        unknown = [name for name in copy["columns"] if name not in known]
        if unknown:
            raise ValueError(f"the snapshot's {table} have columns this database does not know: {unknown}")
        if copy["rows"]:
            names = ", ".join(copy["columns"])
            marks = ", ".join("?" for _ in copy["columns"])
            conn.executemany(f"INSERT INTO {table} ({names}) VALUES ({marks})", copy["rows"])
        counts[table] = len(copy["rows"])
    return counts

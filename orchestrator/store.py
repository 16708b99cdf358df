"""SQLite task store: the durable truth that survives every kind of restart.

One connection, guarded by a lock, in WAL mode with `synchronous=FULL` so that a write
acknowledged to a client survives `kill -9`. Every public method is short and blocking;
async callers run them through `orchestrator.blocking.run_blocking`.

Row-level SQL lives in the module functions below, which take the connection handed to
`TaskStore.read`, `TaskStore.write` or `TaskStore.run_idempotent`, so that a service can
compose several of them into one transaction.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

from orchestrator import clock, entropy
from orchestrator.config import ConfigError
from orchestrator.durable import private_directory, private_file
from orchestrator.faultpoints import io_operation

T = TypeVar("T")

TASK_STATUSES = ("pending", "in_progress", "completed", "failed", "cancelled", "interrupted", "archived")
JOB_STATUSES = ("running", "suspended", "completed", "failed", "interrupted", "cancelled")
COMPLEXITIES = ("simple", "moderate", "complex", "very_complex")


def _check(column: str, values: Iterable[str]) -> str:
    return f"CHECK ({column} IN ({', '.join(repr(v) for v in values)}))"


# Each migration is applied once, in order, in its own transaction; `PRAGMA user_version`
# records how many have been applied. Append new migrations; never edit an applied one.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        f"""CREATE TABLE tasks (
            id TEXT PRIMARY KEY,
            parent_id TEXT REFERENCES tasks(id) ON DELETE CASCADE,
            title TEXT NOT NULL,
            description TEXT NOT NULL DEFAULT '',
            specialist_role TEXT,
            status TEXT NOT NULL {_check("status", TASK_STATUSES)},
            complexity TEXT NOT NULL DEFAULT 'moderate' {_check("complexity", COMPLEXITIES)},
            priority INTEGER NOT NULL DEFAULT 5,
            context TEXT NOT NULL DEFAULT '',
            instructions TEXT NOT NULL DEFAULT '',
            summary TEXT,
            result TEXT,
            artifacts TEXT NOT NULL DEFAULT '[]',
            next_action TEXT,
            job_spec TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )""",
        "CREATE INDEX tasks_parent ON tasks(parent_id)",
        "CREATE INDEX tasks_status ON tasks(status)",
        "CREATE INDEX tasks_created ON tasks(created_at)",
        f"""CREATE TABLE jobs (
            task_id TEXT PRIMARY KEY REFERENCES tasks(id) ON DELETE CASCADE,
            kind TEXT NOT NULL {_check("kind", ("builtin", "command"))},
            params TEXT NOT NULL,
            progress REAL NOT NULL DEFAULT 0 CHECK (progress >= 0 AND progress <= 1),
            status TEXT NOT NULL {_check("status", JOB_STATUSES)},
            checkpoint TEXT,
            ignore_suspend INTEGER NOT NULL DEFAULT 0,
            error TEXT,
            updated_at TEXT NOT NULL
        )""",
        "CREATE INDEX jobs_status ON jobs(status)",
        """CREATE TABLE idempotency (
            key TEXT PRIMARY KEY,
            tool TEXT NOT NULL,
            result TEXT NOT NULL,
            created_at TEXT NOT NULL
        )""",
        """CREATE TABLE sessions (
            id TEXT PRIMARY KEY,
            client_name TEXT NOT NULL,
            working_directory TEXT,
            created_at TEXT NOT NULL,
            last_activity TEXT NOT NULL
        )""",
    ),
    # The digest of the call a key was first used with; rows written before it have NULL.
    ("ALTER TABLE idempotency ADD COLUMN arguments_digest TEXT",),
)

_JSON_COLUMNS = frozenset({"result", "artifacts", "job_spec", "params", "checkpoint"})
_BOOL_COLUMNS = frozenset({"ignore_suspend"})
_TASK_COLUMNS = frozenset(
    {
        "parent_id", "title", "description", "specialist_role", "status", "complexity", "priority",
        "context", "instructions", "summary", "result", "artifacts", "next_action", "job_spec",
    }
)  # fmt: skip
_JOB_COLUMNS = frozenset({"kind", "params", "progress", "status", "checkpoint", "ignore_suspend", "error"})


class StoreError(Exception):
    """The database refused or failed an operation; the message says what and where."""


class StoreBusyError(StoreError):
    """Another connection holds the write lock longer than the busy timeout allows."""


class StoreFullError(StoreError):
    """SQLITE_FULL: the database's file system has no room for the write, which was not applied."""


class IdempotencyConflictError(StoreError):
    """An idempotency key was reused for another tool or other arguments, which is a client bug."""


def utc_now() -> str:
    return clock.utc_now().isoformat(timespec="microseconds")


def new_id() -> str:
    return entropy.new_id()


def arguments_digest(arguments: Mapping[str, Any]) -> str:
    """SHA-256 of the canonical JSON of a call's arguments: the same call always gives the same digest."""
    canonical = json.dumps(arguments, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _is_busy(exc: sqlite3.Error) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
    return "locked" in str(exc) or "busy" in str(exc)


def _wrap(exc: sqlite3.Error, path: Path) -> StoreError:
    if _is_busy(exc):
        return StoreBusyError(f"database {path} is locked by another connection or process: {exc}")
    if getattr(exc, "sqlite_errorcode", 0) & 0xFF == sqlite3.SQLITE_FULL:
        return StoreFullError(f"database {path} failed: {exc} (SQLITE_FULL)")
    return StoreError(f"database {path} failed: {exc}")


class TaskStore:
    """The orchestrator's SQLite database, opened and migrated on construction."""

    def __init__(self, path: Path, busy_timeout_s: float = 5.0) -> None:
        if busy_timeout_s < 0:
            raise ValueError("busy_timeout_s must be >= 0")
        self.path = Path(path)
        self.busy_timeout_s = busy_timeout_s
        self._lock = threading.Lock()
        self._open_transactions = 0
        self._conn = self._connect()
        try:
            self._migrate()
        except sqlite3.Error as exc:
            self._conn.close()
            raise _wrap(exc, self.path) from exc
        except BaseException:
            self._conn.close()
            raise

    def _connect(self) -> sqlite3.Connection:
        try:
            # SQLite follows links and creates its files 0644; it gives the WAL and shared-memory
            # files the database file's mode, so an owner-only database keeps all three private.
            private_directory(self.path.parent)
            private_file(self.path)
            for suffix in ("-wal", "-shm", "-journal"):
                companion = self.path.with_name(self.path.name + suffix)
                if companion.is_symlink() or companion.exists():
                    private_file(companion)
        except OSError as exc:
            raise StoreError(f"database {self.path} cannot be opened safely: {exc.strerror or exc}") from exc
        try:
            conn = sqlite3.connect(
                self.path, timeout=self.busy_timeout_s, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as exc:
            raise _wrap(exc, self.path) from exc
        try:
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA foreign_keys=ON")
        except sqlite3.Error as exc:
            conn.close()
            raise _wrap(exc, self.path) from exc
        return conn

    def replace_file(self, rebuild: Callable[[], T]) -> T:
        """Close the database, let `rebuild` put another file at its path, then open that one.

        Holding the store's lock throughout, so no call sees the file half replaced. The new file
        must already be migrated (it was built by a TaskStore of its own).
        """
        with self._lock:
            self._conn.close()
            try:
                return rebuild()
            finally:
                self._conn = self._connect()

    def _migrate(self) -> None:
        # A current schema needs no write lock: a worker must start even while another process
        # holds the database (that is how a held lock is diagnosed and recovered from).
        if self.read(lambda conn: conn.execute("PRAGMA user_version").fetchone()[0]) >= len(MIGRATIONS):
            return
        for target, statements in enumerate(MIGRATIONS, start=1):
            with self._transaction("IMMEDIATE") as conn:
                # Read inside the write lock so two processes opening at once cannot both migrate.
                if conn.execute("PRAGMA user_version").fetchone()[0] >= target:
                    continue
                for statement in statements:
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {target}")

    @contextmanager
    def _transaction(self, mode: str) -> Iterator[sqlite3.Connection]:
        conn = self._conn
        with self._lock:
            try:
                conn.execute(f"BEGIN {mode}")
                self._open_transactions += 1
                try:
                    yield conn
                    if mode != "DEFERRED":
                        io_operation("sqlite_write", self.path)
                    conn.execute("COMMIT")
                except BaseException:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    raise
                finally:
                    self._open_transactions -= 1
            except sqlite3.Error as exc:
                raise _wrap(exc, self.path) from exc

    def read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run `fn` in a read transaction, so it sees one consistent snapshot."""
        with self._transaction("DEFERRED") as conn:
            return fn(conn)

    def write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run `fn` in a write transaction: all of its changes commit, or none do."""
        with self._transaction("IMMEDIATE") as conn:
            return fn(conn)

    def run_idempotent(
        self,
        key: str | None,
        tool: str,
        fn: Callable[[sqlite3.Connection], dict[str, Any]],
        arguments: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Apply `fn` at most once per key: a replayed key returns the recorded result unchanged.

        The key is bound to its tool and to a digest of `arguments` (the call's checked arguments,
        without the key): the same call replayed after a crash gets the first result, while a key
        reused for a different call is refused instead of silently answering with another call's
        result. Keys recorded before digests existed are bound to their tool only.

        The check, the change and the record share one `BEGIN IMMEDIATE` transaction, so a
        request replayed after a crash either finds the record or finds nothing applied.
        """
        digest = arguments_digest(arguments or {})
        with self._transaction("IMMEDIATE") as conn:
            if key is not None:
                row = conn.execute(
                    "SELECT tool, result, arguments_digest FROM idempotency WHERE key = ?", (key,)
                ).fetchone()
                if row is not None:
                    _check_same_call(key, tool, digest, row)
                    return json.loads(row["result"])
            encoded = json.dumps(fn(conn))
            if key is not None:
                conn.execute(
                    "INSERT INTO idempotency (key, tool, result, created_at, arguments_digest) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (key, tool, encoded, utc_now(), digest),
                )
            return json.loads(encoded)

    @property
    def schema_version(self) -> int:
        return self.read(lambda conn: conn.execute("PRAGMA user_version").fetchone()[0])

    @property
    def transactions_in_progress(self) -> int:
        return self._open_transactions

    def database_facts(self) -> dict[str, Any]:
        """Measured facts about the database file, for health checks and restart readiness."""

        def gather(conn: sqlite3.Connection) -> dict[str, Any]:
            return {
                "schema_version": conn.execute("PRAGMA user_version").fetchone()[0],
                "journal_mode": conn.execute("PRAGMA journal_mode").fetchone()[0],
                "task_counts": count_tasks_by_status(conn),
            }

        facts = self.read(gather)
        wal = self.path.with_name(self.path.name + "-wal")
        return {
            "path": str(self.path),
            "size_bytes": self.path.stat().st_size,
            "wal_size_bytes": wal.stat().st_size if wal.exists() else 0,
            "busy_timeout_s": self.busy_timeout_s,
            **facts,
        }

    def checkpoint_wal(self, wait_s: float | None = None, mode: str = "TRUNCATE") -> tuple[int, int, int]:
        """Fold the WAL into the database file: `(busy, wal_pages, checkpointed_pages)`.

        TRUNCATE also empties the WAL and waits for readers; PASSIVE copies what it can without
        waiting for anyone. busy is 1 when another connection's lock kept the checkpoint from
        completing; `wait_s` bounds how long this call waits for such a lock (the store's busy
        timeout by default).
        """
        if mode not in ("PASSIVE", "TRUNCATE"):
            raise ValueError(f"unknown checkpoint mode {mode!r}")
        with self._lock:
            try:
                if wait_s is not None:
                    self._conn.execute(f"PRAGMA busy_timeout = {int(wait_s * 1000)}")
                busy, wal_pages, moved = self._conn.execute(f"PRAGMA wal_checkpoint({mode})").fetchone()
            except sqlite3.Error as exc:
                raise _wrap(exc, self.path) from exc
            finally:
                if wait_s is not None:
                    self._conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout_s * 1000)}")
        return busy, wal_pages, moved

    def list_active_tasks(self) -> list[dict[str, Any]]:
        """Tasks in progress, with their job's state, for the restart snapshot."""
        return self.read(active_tasks)

    def write_lock_held_elsewhere(self) -> bool:
        """Whether another connection (usually another process) holds the write lock right now.

        Probes with a second connection that does not wait; this store's own connection is
        kept idle meanwhile so that its transactions never count as "elsewhere".
        """
        with self._lock:
            probe = sqlite3.connect(self.path, timeout=0, isolation_level=None)
            try:
                probe.execute("BEGIN IMMEDIATE")
                probe.execute("ROLLBACK")
                return False
            except sqlite3.OperationalError as exc:
                if _is_busy(exc):
                    return True
                raise _wrap(exc, self.path) from exc
            finally:
                probe.close()

    def integrity_check(self) -> tuple[bool, list[str]]:
        """`PRAGMA integrity_check` on the file as it is on disk (a fresh connection, no cached pages)."""
        try:
            probe = sqlite3.connect(self.path, timeout=self.busy_timeout_s)
        except sqlite3.DatabaseError as exc:
            return False, [str(exc)]
        try:
            messages = [row[0] for row in probe.execute("PRAGMA integrity_check").fetchall()]
        except sqlite3.DatabaseError as exc:
            return False, [str(exc)]
        finally:
            probe.close()
        return messages == ["ok"], messages

    def close(self) -> None:
        with self._lock:
            self._conn.close()


def _check_same_call(key: str, tool: str, digest: str, row: sqlite3.Row) -> None:
    if row["tool"] != tool:
        raise IdempotencyConflictError(
            f"idempotency key {key!r} was already used for {row['tool']}, not {tool}; "
            "use a new key for a new call"
        )
    if row["arguments_digest"] is not None and row["arguments_digest"] != digest:
        raise IdempotencyConflictError(
            f"idempotency key {key!r} was already used for a {tool} call with other arguments; "
            "nothing was changed. Use a new key for a new call (repeating the first call's "
            "arguments exactly returns its result)"
        )


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


# -- copies of the tables, for the state snapshot ----------------------------------------------

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

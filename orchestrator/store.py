"""SQLite task store: the durable truth that survives every kind of restart.

One connection, guarded by a lock, in WAL mode with `synchronous=FULL` so that a write
acknowledged to a client survives `kill -9`. Every public method is short and blocking;
async callers run them through `orchestrator.blocking.run_blocking`.

Row-level SQL lives in orchestrator.rows; the copy of the tables a snapshot carries, and the
idempotency window, in orchestrator.table_copy.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from orchestrator.durable import private_directory, private_file
from orchestrator.errors import OrchestratorError
from orchestrator.faultpoints import io_operation
from orchestrator.rows import (
    COMPLEXITIES,
    JOB_STATUSES,
    TASK_STATUSES,
    active_tasks,
    count_tasks_by_status,
    utc_now,
)

T = TypeVar("T")



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

class StoreError(OrchestratorError):
    """The database refused or failed an operation; the message says what and where."""


class StoreBusyError(StoreError):
    """Another connection holds the write lock longer than the busy timeout allows."""


class StoreFullError(StoreError):
    """SQLITE_FULL: the database's file system has no room for the write, which was not applied."""


class IdempotencyConflictError(StoreError):
    """An idempotency key was reused for another tool or other arguments, which is a client bug."""


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

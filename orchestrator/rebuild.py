"""Rebuilding the task database from a state snapshot, when the database cannot be trusted.

A snapshot's `tables` are a copy of every row of the database when it was written (at each
graceful restart's hand-over). A database that is missing, empty, unreadable or fails
`PRAGMA integrity_check` is replaced by one built from the newest valid snapshot that carries such
a copy; the damaged file is moved aside (never deleted), and what it held that the snapshot does
not (the writes after the snapshot, which are lost) is listed when it can still be read.
"""

from __future__ import annotations

import logging
import os
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orchestrator import clock, snapshot
from orchestrator.config import Paths
from orchestrator.durable import fsync_directory, write_atomically
from orchestrator.errors import OrchestratorError
from orchestrator.store import StoreError, TaskStore
from orchestrator.table_copy import SNAPSHOT_TABLES, load_tables

log = logging.getLogger(__name__)

COMPANIONS = ("", "-wal", "-shm", "-journal")
LISTED_IDS = 50  # ids named per kind of lost write; the counts are always complete


@dataclass
class DatabaseProblem:
    """Why the database file cannot be trusted. `kept_as`: where the damaged file was moved."""

    kind: str  # missing, empty, unreadable, corrupt, or replaced (an operator asked for a snapshot's state)
    detail: str
    kept_as: str | None = None

    def describe(self) -> str:
        kept = f"; the damaged file is kept as {self.kept_as}" if self.kept_as else ""
        return f"database {self.kind}: {self.detail}{kept}"


def _read_only(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"{path.absolute().as_uri()}?mode=ro", uri=True, timeout=5)


def _is_busy(exc: sqlite3.Error) -> bool:
    return "locked" in str(exc) or "busy" in str(exc)


def database_problem(path: Path) -> DatabaseProblem | None:
    """Missing, empty, unreadable or failing its integrity check; None when it can be trusted (or
    when another connection's lock keeps it from being checked: a lock is not damage)."""
    if path.is_symlink():
        return None  # refused by the store itself, with its own error
    if not path.exists():
        return DatabaseProblem("missing", f"{path.name} does not exist")
    if path.stat().st_size == 0:
        return DatabaseProblem("empty", f"{path.name} is 0 bytes long")
    try:
        conn = _read_only(path)
    except sqlite3.Error as exc:
        return None if _is_busy(exc) else DatabaseProblem("unreadable", str(exc))
    try:
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()  # the header and schema: can it be opened?
    except sqlite3.Error as exc:
        conn.close()
        return None if _is_busy(exc) else DatabaseProblem("unreadable", str(exc))
    try:
        messages = [row[0] for row in conn.execute("PRAGMA integrity_check")]
    except sqlite3.Error as exc:  # damage bad enough to stop the check itself
        if _is_busy(exc):
            return None
        messages = [str(exc)]
    finally:
        conn.close()
    if messages != ["ok"]:
        return DatabaseProblem("corrupt", "integrity check failed: " + "; ".join(messages[:3]))
    return None


def move_aside(database: Path, label: str = "damaged") -> str:
    """Rename the database and its companion files to a name of their own; returns the new name."""
    stamp = clock.utc_now().strftime("%Y%m%dT%H%M%S.%fZ")
    target = database.with_name(f"{database.name}.{label}-{stamp}")
    for suffix in COMPANIONS:
        source, moved = Path(f"{database}{suffix}"), Path(f"{target}{suffix}")
        if source.exists() or source.is_symlink():
            if moved.exists():
                raise FileExistsError(f"{moved.name} already exists; not overwriting it")
            os.rename(source, moved)
    fsync_directory(database.parent)
    return target.name


def writes_after(database: Path, document: dict[str, Any]) -> dict[str, Any]:
    """What `database` holds that the snapshot does not: the writes a rebuild or a restore undoes.

    Compared by each task's and job's `updated_at`; a file that cannot be read is said to be so.
    Archived tasks the snapshot left out (and their jobs) are counted apart: they are cold data,
    not writes made after it.
    """
    after = document["timestamp"]
    copy = {
        table: {row[0]: row[-1] for row in _rows(document["tables"][table], key, "updated_at")}
        for table, key in (("tasks", "id"), ("jobs", "task_id"))
    }
    try:
        conn = _read_only(database)
        try:
            held = {
                table: dict(conn.execute(f"SELECT {key}, updated_at FROM {table}").fetchall())
                for table, key in (("tasks", "id"), ("jobs", "task_id"))
            }
            archived = {row[0] for row in conn.execute("SELECT id FROM tasks NOT INDEXED WHERE status = 'archived'")}  # a damaged index is not read
        finally:
            conn.close()
    except sqlite3.Error as exc:
        return {
            "snapshot_timestamp": after,
            "listed": False,
            "reason": f"{database.name} cannot be read ({exc}): every write after {after} is lost, unlisted",
        }
    cold = archived - set(copy["tasks"])
    report: dict[str, Any] = {"snapshot_timestamp": after, "listed": True, "counts": {"archived_not_in_snapshot": len(cold)}}
    for table in ("tasks", "jobs"):
        ours, theirs = {k: v for k, v in held[table].items() if k not in cold}, copy[table]
        kinds = {
            f"{table}_created_after": sorted(set(ours) - set(theirs)),
            f"{table}_changed_after": sorted(k for k in set(ours) & set(theirs) if ours[k] != theirs[k]),
            f"{table}_deleted_after": sorted(set(theirs) - set(ours)),
        }
        for kind, ids in kinds.items():
            report["counts"][kind] = len(ids)
            report[kind] = ids[:LISTED_IDS]
    return report


def _rows(copy: dict[str, Any], *columns: str) -> list[list[Any]]:
    positions = [copy["columns"].index(column) for column in columns]
    return [[row[p] for p in positions] for row in copy["rows"]]


class RebuildFailed(OrchestratorError):
    """A snapshot's copy of the database could not be built into a database; nothing was replaced."""


def stage(database: Path, document: dict[str, Any]) -> tuple[Path, dict[str, int]]:
    """Build a database from a snapshot's copy in a file next to `database`; nothing else is touched.

    The file is complete, checked and fsynced when this returns, so installing it is one rename.
    """
    missing = [table for table in SNAPSHOT_TABLES if table not in document["tables"]]
    if missing:
        raise RebuildFailed(f"the snapshot carries no copy of the table(s) {missing}")
    staged = database.with_name(f".{database.name}.rebuild.{os.getpid()}.tmp")
    _remove(staged)
    try:
        store = TaskStore(staged)
        try:
            counts = store.write(lambda conn: _load(conn, document["tables"]))
            ok, messages = store.integrity_check()
            if not ok:
                raise RebuildFailed("the rebuilt database fails its integrity check: " + "; ".join(messages[:3]))
            store.checkpoint_wal()
        finally:
            store.close()
        fd = os.open(staged, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except BaseException as exc:
        _remove(staged)
        if isinstance(exc, StoreError | sqlite3.Error | ValueError):
            raise RebuildFailed(str(exc)) from exc
        raise
    return staged, counts


def install(staged: Path, database: Path) -> None:
    """Put a staged database in place of whatever is at `database` (a damaged file is moved aside
    first; an empty one this worker created is replaced, with its own WAL)."""
    _remove(staged, suffixes=COMPANIONS[1:])
    _remove(database, suffixes=COMPANIONS[1:])
    os.replace(staged, database)
    fsync_directory(database.parent)


def _load(conn: sqlite3.Connection, tables: dict[str, Any]) -> dict[str, int]:
    conn.execute("PRAGMA defer_foreign_keys = ON")  # checked at commit, whatever the rows' order
    return load_tables(conn, tables)


def _remove(path: Path, suffixes: tuple[str, ...] = COMPANIONS) -> None:
    for suffix in suffixes:
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def rebuild(paths: Paths, problem: DatabaseProblem, replace: Callable[[Callable[[], Any]], Any]) -> dict[str, Any]:
    """Rebuild the database from the newest valid snapshot that builds; the report says from which,
    why, where the damaged file went and which writes are lost. `replace` runs the file swap with
    the database closed (`TaskStore.replace_file`)."""
    started = clock.monotonic()
    rejected: list[dict[str, str]] = []
    for name, source, document in snapshot.valid_candidates(paths, rejected):

        def swap(document: dict[str, Any] = document) -> dict[str, Any]:
            in_place = problem.kind in ("corrupt", "replaced")  # a file with content of its own, still there
            lost = writes_after(paths.database, document) if in_place else {
                "snapshot_timestamp": document["timestamp"],
                "listed": False,
                "reason": f"the database was {problem.kind}: every write after {document['timestamp']} is lost, unlisted",
            }
            staged, counts = stage(paths.database, document)
            if in_place:
                problem.kept_as = move_aside(paths.database, "damaged" if problem.kind == "corrupt" else "replaced")
            install(staged, paths.database)
            return {"counts": counts, "lost": lost}

        try:
            built = replace(swap)
        except RebuildFailed as exc:
            rejected.append({"file": name, "reason": f"cannot be rebuilt from: {exc}"})
            continue
        return {
            "rebuilt": True,
            "summary": f"{problem.describe()}; rebuilt from {name} of {document['timestamp']}: every write "
            "after it is lost (listed in state_restore.rebuild.lost_writes when the file could be read); "
            "archived tasks and idempotency keys past their window are not in a snapshot (see not_in_snapshot)",
            "snapshot": name,
            "source": source,
            "snapshot_timestamp": document["timestamp"],
            "reason": problem.describe(),
            "damaged_database_kept_as": problem.kept_as,
            "rows": built["counts"],
            "lost_writes": built["lost"],
            "not_in_snapshot": not_in_snapshot(document, problem.kept_as),
            "rejected": rejected,
            "duration_s": round(clock.monotonic() - started, 4),
        }
    return failed(problem, "no valid snapshot carries a copy of the database to rebuild it from", rejected)


def not_in_snapshot(document: dict[str, Any], kept_as: str | None) -> dict[str, Any]:
    """What the snapshot left out by design (its `database_state.copy`), and where it still is."""
    where = f"the file kept aside as {kept_as} still holds them" if kept_as else "they went with the database"
    return {
        "left_out": document["database_state"].get("copy"),
        "note": "archived tasks (with their jobs) and idempotency keys older than the window are not copied "
        f"into a snapshot, so the rebuilt database lacks them: {where}; a replay of a key it lacks is a new call",
    }


def failed(problem: DatabaseProblem, why: str, rejected: list[dict[str, str]]) -> dict[str, Any]:
    return {
        "rebuilt": False,
        "summary": f"{problem.describe()}; not rebuilt: {why}",
        "reason": problem.describe(),
        "damaged_database_kept_as": problem.kept_as,
        "rejected": rejected,
    }


RESTORE_REQUEST = "restore_request.json"  # in the state directory: the operator asked for a snapshot's state
MAX_REQUEST_BYTES = 4096


def request_restore(paths: Paths, name: str, document: dict[str, Any]) -> None:
    """Ask the next worker to serve this snapshot's state (it is `current_state.json` by then)."""
    request = {"snapshot": name, "integrity_hash": document["integrity_hash"], "requested_at": clock.utc_now().isoformat()}
    write_atomically(paths.state_dir / RESTORE_REQUEST, snapshot.canonical_json(request))


def restore_requested(paths: Paths) -> DatabaseProblem | None:
    """The operator's request, read like any state file; a malformed one is logged, never obeyed."""
    try:
        request = snapshot.decode_json(snapshot.read_state_file(paths.state_dir / RESTORE_REQUEST, MAX_REQUEST_BYTES))
    except FileNotFoundError:
        return None
    except snapshot.SnapshotInvalid as exc:
        log.warning("%s ignored: %s", RESTORE_REQUEST, exc)
        return None
    if not isinstance(request, dict) or not all(isinstance(request.get(k), str) for k in ("snapshot", "requested_at")):
        log.warning("%s ignored: it is not a restore request", RESTORE_REQUEST)
        return None
    return DatabaseProblem("replaced", f"`state restore` of {request['snapshot']} asked for at {request['requested_at']}")


def clear_restore_request(paths: Paths) -> None:
    (paths.state_dir / RESTORE_REQUEST).unlink(missing_ok=True)
    fsync_directory(paths.state_dir)

"""State snapshots: `current_state.json`, its backups, and restore with fallback.

The file is canonical JSON (sorted keys, no spaces) with one top-level field per line, whose
`integrity_hash` is the SHA-256 of the canonical JSON of every other field. Verification re-serialises the whole document and
compares bytes too, so a change to any byte of the file is detected, even in whitespace. The hash
is not keyed: it detects corruption (a torn write, a flipped bit, a hand edit that forgot the hash),
not tampering, since anyone who can write the file can recompute it. Nothing in a snapshot is ever
executed: it is parsed as JSON and checked field by field.

A state file is read defensively (`read_state_file`): only a regular file is opened (a symlink, a
FIFO, a device or a directory is refused without blocking), its size is checked before reading and
no more than the limit is ever read, and a document nesting deeper than `MAX_DEPTH` is refused.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from orchestrator import __version__, clock, faultpoints
from orchestrator.config import Paths
from orchestrator.durable import fsync_directory, remove_stale_temps, temp_name, write_synced
from orchestrator.errors import OrchestratorError
from orchestrator.table_copy import SNAPSHOT_TABLES

SNAPSHOT_VERSION = 2  # 2: `tables`, a copy of the database's rows, from which it can be rebuilt
BACKUPS_KEPT = 10
MAX_SNAPSHOT_BYTES = 64 * 1024 * 1024
MAX_DEPTH = 32  # a snapshot written by the orchestrator nests 5 levels deep
BACKUP_PATTERN = re.compile(r"^backup_state_(\d{8}T\d{6}\.\d{6}Z)(?:_(\d+))?\.json$")

REQUIRED_FIELDS: dict[str, type | tuple[type, ...]] = {
    "version": int,
    "timestamp": str,
    "server_version": str,
    "restart_reason": str,
    "active_tasks": list,
    "suspended_tasks": list,
    "client_sessions": list,
    "database_state": dict,
    "tables": dict,
    "integrity_hash": str,
}
COLUMN_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


class SnapshotInvalid(OrchestratorError, ValueError):
    """A snapshot file failed verification; the message says why."""


_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode


def canonical_json(value: Any) -> bytes:
    return _CANONICAL(value).encode()


def _members(document: dict[str, Any]) -> list[tuple[str, str]]:
    """Each top-level field as canonical JSON `"key":value`, in key order.

    Both the hash input (the canonical JSON of every other field) and the file layout are joins of
    these strings, so writing or verifying a snapshot encodes its content once, with the C encoder.
    """
    return [(key, f"{_CANONICAL(key)}:{_CANONICAL(document[key])}") for key in sorted(document)]


def _hash_of(members: list[tuple[str, str]]) -> str:
    body = ",".join(member for key, member in members if key != "integrity_hash")
    return hashlib.sha256(("{" + body + "}").encode()).hexdigest()


def _layout(members: list[tuple[str, str]]) -> bytes:
    return ("{\n" + ",\n".join(member for _, member in members) + "\n}\n").encode()


def integrity_hash(document: dict[str, Any]) -> str:
    """SHA-256 of the canonical JSON (sorted keys, no spaces) of every field but this one."""
    return _hash_of(_members(document))


def render(document: dict[str, Any]) -> bytes:
    """The one byte layout a snapshot may have on disk: canonical JSON, one top-level field a line."""
    return _layout(_members(document))


def build_snapshot(
    *,
    restart_reason: str,
    active_tasks: list[dict[str, Any]],
    suspended_tasks: list[dict[str, Any]],
    client_sessions: list[dict[str, Any]],
    database_state: dict[str, Any],
    tables: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """A snapshot document; `tables` (from `table_copy.dump_tables`) is what a database can be rebuilt from."""
    document: dict[str, Any] = {
        "version": SNAPSHOT_VERSION,
        "timestamp": (now or clock.utc_now()).isoformat(),
        "server_version": __version__,
        "restart_reason": restart_reason,
        "active_tasks": active_tasks,
        "suspended_tasks": suspended_tasks,
        "client_sessions": client_sessions,
        "database_state": database_state,
        "tables": tables or {},
    }
    document["integrity_hash"] = integrity_hash(document)
    return document


_FILE_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def read_state_file(path: Path, limit: int = MAX_SNAPSHOT_BYTES) -> bytes:
    """The bytes of a state file, refusing (SnapshotInvalid) anything that is not a regular file of at
    most `limit` bytes; never blocks on a FIFO and never reads more than `limit` + 1 bytes.

    FileNotFoundError is left to the caller (a missing file is a normal case, not a damaged one).
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise SnapshotInvalid("is a symbolic link, not a regular file") from None
        if isinstance(exc, FileNotFoundError):
            raise
        raise SnapshotInvalid(f"cannot be opened: {exc.strerror}") from None
    try:
        mode = os.fstat(fd)
        if not stat.S_ISREG(mode.st_mode):
            kind = next((name for test, name in _FILE_KINDS if test(mode.st_mode)), "not a regular file")
            raise SnapshotInvalid(f"is {kind}, not a regular file")
        if mode.st_size > limit:
            raise SnapshotInvalid(f"file is larger than {limit} bytes ({mode.st_size} bytes)")
        chunks, left = [], limit + 1
        while left > 0 and (chunk := os.read(fd, min(left, 1 << 20))):
            chunks.append(chunk)
            left -= len(chunk)
    except OSError as exc:
        raise SnapshotInvalid(f"cannot be read: {exc.strerror}") from None
    finally:
        os.close(fd)
    raw = b"".join(chunks)
    if len(raw) > limit:
        raise SnapshotInvalid(f"file is larger than {limit} bytes (it grew while being read)")
    return raw


def _check_depth(document: Any) -> None:
    """Refuse a document nesting deeper than MAX_DEPTH (walked without recursion)."""
    pending = [(document, 1)]
    while pending:
        value, depth = pending.pop()
        if depth > MAX_DEPTH:
            raise SnapshotInvalid(f"nests deeper than {MAX_DEPTH} levels")
        children = value.values() if isinstance(value, dict) else value
        pending.extend((child, depth + 1) for child in children if isinstance(child, dict | list))


def decode_json(raw: bytes) -> Any:
    """Strict UTF-8 JSON of bounded nesting, or SnapshotInvalid saying which of these it is not."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SnapshotInvalid(f"not valid JSON (not UTF-8: {exc})") from None
    try:
        document = json.loads(text)
    except ValueError as exc:  # JSONDecodeError, or an integer past Python's digit limit
        raise SnapshotInvalid(f"not valid JSON: {exc}") from None
    except RecursionError:
        raise SnapshotInvalid(f"nests deeper than {MAX_DEPTH} levels") from None
    if isinstance(document, dict | list):
        _check_depth(document)
    return document


def parse_snapshot(raw: bytes) -> dict[str, Any]:
    """Verify bytes read from a snapshot file; raise SnapshotInvalid saying what is wrong."""
    if not raw:
        raise SnapshotInvalid("file is empty")
    if len(raw) > MAX_SNAPSHOT_BYTES:
        raise SnapshotInvalid(f"file is larger than {MAX_SNAPSHOT_BYTES} bytes")
    document = decode_json(raw)
    if not isinstance(document, dict):
        raise SnapshotInvalid("top level is not a JSON object")
    for name, expected in REQUIRED_FIELDS.items():
        if name not in document:
            raise SnapshotInvalid(f"field {name!r} is missing")
        if not isinstance(document[name], expected) or isinstance(document[name], bool):
            raise SnapshotInvalid(f"field {name!r} has the wrong type")
    if document["version"] != SNAPSHOT_VERSION:
        raise SnapshotInvalid(f"version {document['version']} is not supported (expected {SNAPSHOT_VERSION})")
    members = _members(document)
    if document["integrity_hash"] != _hash_of(members):
        raise SnapshotInvalid("integrity_hash does not match the content")
    if _layout(members) != raw:
        raise SnapshotInvalid("file bytes differ from the canonical layout (edited by hand or damaged)")
    _check_tables(document["tables"])
    database_file = document["database_state"].get("file")
    if database_file is not None and database_file != "task_orchestrator.db":
        raise SnapshotInvalid(f"database_state.file {database_file!r} points outside the state directory")
    return document


def _check_tables(tables: dict[str, Any]) -> None:
    """The copy of the database: known tables, identifier column names, rows of plain values."""
    for name, copy in tables.items():
        if name not in SNAPSHOT_TABLES:
            raise SnapshotInvalid(f"tables.{name} is not a table of the database")
        if not isinstance(copy, dict) or set(copy) != {"columns", "rows"}:
            raise SnapshotInvalid(f"tables.{name} must be an object with columns and rows")
        columns, rows = copy["columns"], copy["rows"]
        if not isinstance(columns, list) or not all(isinstance(c, str) and COLUMN_NAME.match(c) for c in columns):
            raise SnapshotInvalid(f"tables.{name}.columns must be a list of column names")
        if len(set(columns)) != len(columns):
            raise SnapshotInvalid(f"tables.{name}.columns names a column twice")
        if not isinstance(rows, list):
            raise SnapshotInvalid(f"tables.{name}.rows must be a list")
        for index, row in enumerate(rows):
            if not isinstance(row, list) or len(row) != len(columns):
                raise SnapshotInvalid(f"tables.{name}.rows[{index}] must be a list of {len(columns)} values")
            if any(isinstance(v, bool) or not isinstance(v, str | int | float | None) for v in row):
                raise SnapshotInvalid(f"tables.{name}.rows[{index}] holds a value that is not text, a number or null")


def backup_sort_key(path: Path) -> tuple[str, int]:
    match = BACKUP_PATTERN.match(path.name)
    if match is None:
        return ("", -1)
    return (match.group(1), int(match.group(2) or 0))


def list_backups(paths: Paths) -> list[Path]:
    """Backups newest first (by the UTC timestamp in the name, then the collision counter)."""
    if not paths.state_dir.is_dir():
        return []
    found = [p for p in paths.state_dir.iterdir() if BACKUP_PATTERN.match(p.name)]
    return sorted(found, key=backup_sort_key, reverse=True)


@dataclass
class WriteResult:
    path: str
    size_bytes: int
    integrity_hash: str
    backup: str | None
    pruned: list[str] = field(default_factory=list)


def write_snapshot(paths: Paths, document: dict[str, Any], now: datetime | None = None) -> WriteResult:
    """Write a new current snapshot durably, keeping the previous one as a backup.

    The new bytes are written and fsynced before anything else changes, so a full or read-only disk
    fails here and leaves the previous `current_state.json` exactly as it was.
    """
    paths.state_dir.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(paths.current_state)
    data = render(document)
    staged = temp_name(paths.current_state)
    write_synced(staged, data, faultpoint="snapshot.mid_write")
    backup = None
    try:
        faultpoints.reached_in_io("snapshot.before_rename", len(data))
        if paths.current_state.exists():
            backup = _link_backup(paths, now or clock.utc_now())
        faultpoints.io_operation("rename", paths.current_state)
        os.replace(staged, paths.current_state)
    except faultpoints.ProcessExit:  # the simulator's crash: a killed process removes nothing
        raise
    except BaseException:
        staged.unlink(missing_ok=True)
        raise
    fsync_directory(paths.state_dir)
    pruned = prune_backups(paths)
    return WriteResult(str(paths.current_state), len(data), document["integrity_hash"], backup, pruned)


def _link_backup(paths: Paths, now: datetime) -> str:
    """Give the current snapshot a second, unique backup name (a hard link: no copy, no partial file).

    Names sort by time; within one microsecond a counter above every name already used for that
    instant keeps the order, even after pruning has freed lower counters.
    """
    stamp = now.strftime("%Y%m%dT%H%M%S.%fZ")
    used = [backup_sort_key(p)[1] for p in list_backups(paths) if backup_sort_key(p)[0] == stamp]
    counter = max(used, default=-1) + 1
    while True:
        suffix = f"_{counter:02d}" if counter else ""
        target = paths.state_dir / f"backup_state_{stamp}{suffix}.json"
        try:
            faultpoints.io_operation("link", target)
            os.link(paths.current_state, target)
            return target.name
        except FileExistsError:
            counter += 1


def prune_backups(paths: Paths, keep: int = BACKUPS_KEPT) -> list[str]:
    removed = []
    for old in list_backups(paths)[keep:]:
        faultpoints.io_operation("unlink", old)
        old.unlink(missing_ok=True)
        removed.append(old.name)
    if removed:
        fsync_directory(paths.state_dir)
    return removed


@dataclass
class RestoreReport:
    """Which snapshot restore used, and why every file before it was rejected."""

    used: str | None
    source: str  # "current", "backup", or "database_only"
    rejected: list[dict[str, str]]
    document: dict[str, Any] | None

    def summary(self) -> dict[str, Any]:
        return {"used": self.used, "source": self.source, "rejected": self.rejected}


def verify_file(path: Path) -> dict[str, Any]:
    return parse_snapshot(read_state_file(path))


def valid_candidates(paths: Paths, rejected: list[dict[str, str]]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """`current_state.json`, then each backup newest first, that pass verification, as (file name,
    source, document); each one that does not is added to `rejected` with its reason."""
    for index, candidate in enumerate([paths.current_state, *list_backups(paths)]):
        try:
            document = verify_file(candidate)
        except FileNotFoundError:
            rejected.append({"file": candidate.name, "reason": "file is missing"})
            continue
        except (OSError, SnapshotInvalid) as exc:
            rejected.append({"file": candidate.name, "reason": str(exc)})
            continue
        yield candidate.name, "current" if index == 0 else "backup", document


def load_latest(paths: Paths) -> RestoreReport:
    """The newest valid snapshot (current, then backups); the database alone if none is valid."""
    rejected: list[dict[str, str]] = []
    for name, source, document in valid_candidates(paths, rejected):
        return RestoreReport(name, source, rejected, document)
    return RestoreReport(None, "database_only", rejected, None)

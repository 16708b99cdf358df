"""The sweep's I/O schedule: count the restart's I/O operations and make the Nth one fail or crash.

Installed with `orchestrator.faultpoints.io_schedule`, it sees every write, fsync, rename, link,
unlink of a state file and every SQLite write transaction, but counts only while armed (from the
moment the restart call begins until the restart has settled) and only the kinds swept.
"""

from __future__ import annotations

import errno
import os
import shutil
import sqlite3
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from orchestrator.faultpoints import IO_KINDS, ProcessExit

# What SQLite says when the disk fails under a write (its own wording, which the worker classifies).
SQLITE_MESSAGES = {
    "EIO": "disk I/O error",
    "ENOSPC": "database or disk is full",
    "EDQUOT": "database or disk is full",
    "EFBIG": "database or disk is full",
    "EROFS": "attempt to write a readonly database",
    "EACCES": "attempt to write a readonly database",
    "EPERM": "attempt to write a readonly database",
}


# Frames that only pass an operation on: the origin shown is the first frame past them.
PLUMBING_MODULES = {"orchestrator.faultpoints", "orchestrator.durable", "orchestrator.store", "orchestrator.blocking", __name__}
PLUMBING_FUNCTIONS = {"_write", "_try_write", "_retry_write", "_apply"}


def origin() -> str:
    """The orchestrator function doing the current operation (`jobs._suspend`, `snapshot.write_snapshot`)."""
    frame = sys._getframe(1)
    while frame is not None:
        module, function = frame.f_globals.get("__name__", ""), frame.f_code.co_name
        if module.startswith("orchestrator.") and module not in PLUMBING_MODULES and function not in PLUMBING_FUNCTIONS:
            return f"{module.removeprefix('orchestrator.')}.{function}"
        frame = frame.f_back
    return "?"


def shown_name(target: str) -> str:
    """The file name, with this process's pid (part of temp file names) shown as <pid>, so names
    are the same on every machine and in every replay."""
    return Path(target).name.replace(f".{os.getpid()}.", ".<pid>.")


@dataclass(frozen=True)
class Operation:
    number: int
    kind: str
    target: str
    origin: str


class Fault(Protocol):
    def strike(self, kind: str, target: Path) -> None:
        """Raise what the operation should end with."""


@dataclass(frozen=True)
class IoError:
    """The operation fails as the disk would make it fail: OSError(errno), or SQLite's error for a COMMIT."""

    errno_name: str = "EIO"

    def strike(self, kind: str, target: Path) -> None:
        if kind == "sqlite_write":
            raise sqlite3.OperationalError(SQLITE_MESSAGES[self.errno_name])
        code = getattr(errno, self.errno_name)
        raise OSError(code, os.strerror(code), str(target))

    def describe(self) -> str:
        return self.errno_name


class DiskImage:
    """The orchestrator's files as they were at one instant: what a kill of the whole orchestrator leaves.

    Simulated processes unwind (finally blocks, a last SQLite connection closing) where a killed
    process would not; restoring the image taken at the crash point undoes all of that. SQLite's
    shared-memory index (-shm) is left out and rebuilt from the WAL, as after a power cut.
    """

    def __init__(self, root: Path, keep: Path):
        self.root = root
        self.keep = keep
        self.taken = False

    def take(self) -> None:
        shutil.rmtree(self.keep, ignore_errors=True)
        shutil.copytree(self.root, self.keep, ignore=shutil.ignore_patterns("*-shm"))
        self.taken = True

    def restore(self) -> None:
        shutil.rmtree(self.root)
        shutil.copytree(self.keep, self.root)


@dataclass(frozen=True)
class Crash:
    """The process doing the operation dies just before it (ProcessExit); the disk image is taken then,
    for the case where that process was the supervisor and the whole orchestrator went down."""

    image: DiskImage

    def strike(self, kind: str, target: Path) -> None:
        self.image.take()
        raise ProcessExit("crash")

    def describe(self) -> str:
        return "crash"


class NthOperation:
    """An io_schedule that records the armed window's operations and strikes the `nth` (None: none)."""

    def __init__(self, nth: int | None, kinds: frozenset[str], fault: Fault):
        unknown = kinds - set(IO_KINDS)
        if unknown:
            raise ValueError(f"unknown I/O kind(s) {', '.join(sorted(unknown))}; known: {', '.join(IO_KINDS)}")
        self.nth = nth
        self.kinds = kinds
        self.fault = fault
        self.seen: list[Operation] = []
        self.struck: Operation | None = None
        self._armed = False

    @contextmanager
    def armed(self) -> Iterator[None]:
        self._armed = True
        try:
            yield
        finally:
            self._armed = False

    def operation(self, kind: str, target: str) -> None:
        if not self._armed or kind not in self.kinds:
            return
        current = Operation(len(self.seen) + 1, kind, shown_name(target), origin())
        self.seen.append(current)
        if current.number == self.nth:
            self.struck = current
            self.fault.strike(kind, Path(target))

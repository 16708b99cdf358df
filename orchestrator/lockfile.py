"""`server.lock`: one orchestrator per state directory, with stale locks from dead pids recovered.

The pid alone is not trusted: a lock counts as held only if that pid is alive and is an
orchestrator process, so a recycled pid does not block start-up forever.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from orchestrator.durable import open_private, private_directory
from orchestrator.errors import OrchestratorError
from orchestrator.snapshot import read_state_file

log = logging.getLogger(__name__)

MAX_LOCK_BYTES = 64  # a pid and a line break


class LockHeld(OrchestratorError, RuntimeError):
    """Another live orchestrator owns the state directory."""


def is_orchestrator_process(pid: int) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return b"mcp_task_orchestrator" in cmdline or b"task-orchestrator" in cmdline


def read_owner(lock_file: Path) -> int | None:
    """The pid in the lock file, or None. Read like a state file: a FIFO, a device or a link in
    its place is refused without blocking, and no more than a pid's worth of bytes is read."""
    try:
        return int(read_state_file(lock_file, MAX_LOCK_BYTES).strip())
    except (OSError, ValueError):  # SnapshotInvalid is a ValueError
        return None


def acquire(lock_file: Path) -> str | None:
    """Take the lock for this process; returns a note when a stale lock was recovered."""
    private_directory(lock_file.parent)
    note = None
    for _ in range(2):
        try:
            fd = open_private(lock_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
        except FileExistsError:
            owner = read_owner(lock_file)
            if owner is not None and owner != os.getpid() and is_orchestrator_process(owner):
                raise LockHeld(
                    f"{lock_file} is held by running orchestrator pid {owner}; stop it first "
                    f"or use another --base-dir"
                ) from None
            note = f"recovered stale lock {lock_file} left by pid {owner} (not running)"
            log.warning(note)
            lock_file.unlink(missing_ok=True)
            continue
        with os.fdopen(fd, "w") as handle:
            handle.write(f"{os.getpid()}\n")
            handle.flush()
            os.fsync(handle.fileno())
        return note
    raise LockHeld(f"could not take {lock_file}: another process keeps recreating it")


def release(lock_file: Path) -> None:
    if read_owner(lock_file) == os.getpid():
        lock_file.unlink(missing_ok=True)

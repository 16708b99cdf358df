"""Named fault points and I/O operations: where the chaos harness can make the orchestrator fail.

Named points are off unless the server was started with MCP_TASK_ORCHESTRATOR_FAULTPOINTS naming
a JSON file (or, in the simulator, `armed_from` names one); the harness writes that file to arm a
point and removes it to heal. Only data is read from it (a delay, an errno name, an exit):
nothing in it is ever executed. Used only where a real mechanism is impossible or imprecise (a
slow disk, a worker that dies at start-up); each use is reported by the harness as a fault point,
never as the real thing.

File format: {"<point>": {"action": "delay", "seconds": 2.5} | {"action": "error", "errno": "ENOSPC"}
| {"action": "exit", "code": 3} | {"action": "hang"} | {"action": "crash"}}; a point inside a write
(`snapshot.mid_write`) also takes `"after_bytes": N`, acting once at least N bytes are written.

I/O operations (every write, fsync, rename, link, unlink of a state file, every SQLite write
transaction) report themselves through `io_operation`; the simulator's sweeps count them and fail
or crash the Nth. Live, that costs one global read.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Protocol

import anyio

FAULTPOINTS_ENV = "MCP_TASK_ORCHESTRATOR_FAULTPOINTS"
POINTS = {
    "snapshot.write": "before the state snapshot is written (delay or errno: slow or failing disk)",
    "worker.start": "as a worker process starts, before it serves (exit, crash or hang: replacement fails)",
    "worker.activate": "as a worker restores state (exit, crash, hang or delay)",
    "snapshot.mid_write": "inside the write of the snapshot's temp file, once `after_bytes` of it are written "
    "(exit, crash or error)",
    "snapshot.before_rename": "after the snapshot's temp file is written and fsynced, before it is renamed over "
    "current_state.json (exit, crash or error)",
}
SYNC_ACTIONS = ("error", "exit", "crash")  # what a point inside blocking file I/O can do (no await there)
ACTIONS = ("delay", "error", "exit", "hang", "crash")
IO_KINDS = ("write", "fsync", "rename", "link", "unlink", "sqlite_write")
HANG_STEP_S = 0.1

log = logging.getLogger(__name__)


class ProcessExit(BaseException):
    """The simulator's stand-in for a process ending (exit or SIGKILL) at a fault point or I/O op.

    A BaseException, so no `except Exception` on the way up mistakes it for an error to handle.
    """

    def __init__(self, how: str):
        super().__init__(how)
        self.how = how


def _exit_process(how: str, code: int) -> None:
    if how == "crash":
        os.kill(os.getpid(), signal.SIGKILL)
    os._exit(code)


def _raise_process_exit(how: str, code: int) -> None:
    raise ProcessExit(f"{how} (code {code})" if how == "exit" else "crash (SIGKILL)")


_terminate: ContextVar[Callable[[str, int], None]] = ContextVar("faultpoints_terminate", default=_exit_process)
_location: ContextVar[Path | None] = ContextVar("faultpoints_location", default=None)


class IoSchedule(Protocol):
    def operation(self, kind: str, target: str) -> None:
        """Called before each I/O operation; raises to make it fail (or ProcessExit to crash)."""


_io_schedule: IoSchedule | None = None


@contextmanager
def in_process(armed_file: Path) -> Iterator[None]:
    """For this context (and tasks it starts): read points from `armed_file`, and end a worker by
    raising ProcessExit instead of ending the process (the simulator runs workers in-process)."""
    location = _location.set(armed_file)
    terminate = _terminate.set(_raise_process_exit)
    try:
        yield
    finally:
        _terminate.reset(terminate)
        _location.reset(location)


@contextmanager
def io_schedule(schedule: IoSchedule) -> Iterator[None]:
    global _io_schedule
    previous, _io_schedule = _io_schedule, schedule
    try:
        yield
    finally:
        _io_schedule = previous


def io_operation(kind: str, target: Path | str) -> None:
    """Report an I/O operation about to happen; an installed schedule may fail it."""
    if _io_schedule is not None:
        _io_schedule.operation(kind, str(target))


def enabled() -> bool:
    """Whether fault injection is switched on here (the server's environment, or the simulator)."""
    return _location.get() is not None or bool(os.environ.get(FAULTPOINTS_ENV))


def armed(point: str) -> dict | None:
    """The fault armed at `point`, if the harness armed one."""
    location = _location.get() or os.environ.get(FAULTPOINTS_ENV)
    if not location:
        return None
    try:
        config = json.loads(Path(location).read_text())
    except (OSError, ValueError):
        return None
    spec = config.get(point) if isinstance(config, dict) else None
    return spec if isinstance(spec, dict) and spec.get("action") in ACTIONS else None


def reached_in_io(point: str, written: int = 0) -> None:
    """`reached` for a point inside blocking file I/O (no event loop to wait on there): fail with an
    errno or end the process, where the file is really at that moment. `written` is how many bytes
    of the file are on their way to the disk; the point acts once it reaches the spec's `after_bytes`."""
    spec = armed(point)
    if spec is None or spec["action"] not in SYNC_ACTIONS or written < int(spec.get("after_bytes", 0)):
        return
    log.warning("fault point %s after %d bytes: %s", point, written, spec)
    _act(point, spec)


async def reached(point: str) -> None:
    """Apply the fault armed at `point`: wait, fail with an errno, hang until healed, or end the process."""
    spec = armed(point)
    if spec is None:
        return
    log.warning("fault point %s: %s", point, spec)
    if spec["action"] == "delay":
        await anyio.sleep(float(spec.get("seconds", 1.0)))
    elif spec["action"] == "hang":
        while armed(point) is not None:
            await anyio.sleep(HANG_STEP_S)
    else:
        _act(point, spec)


def _act(point: str, spec: dict) -> None:
    """Fail with the spec's errno, or end the process (a crash is SIGKILL: no clean-up runs)."""
    if spec["action"] == "error":
        code = getattr(errno, str(spec.get("errno", "EIO")), errno.EIO)
        raise OSError(code, f"{os.strerror(code)} (fault point {point})")
    _terminate.get()(spec["action"], int(spec.get("code", 3)))

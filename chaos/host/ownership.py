"""What this run owns, and the guarantee that none of it outlives the run.

Every process the harness starts carries `CHAOS_RUN_ID` in its environment (the orchestrator's
workers inherit it), so ownership is checked before any signal is sent and a leak check can find
leftovers. Processes the harness starts die with it (a parent-death signal), so a crashed run
leaves none behind; a process the harness has stopped with SIGSTOP would survive that, so a
watchdog process kills it if the harness dies before releasing it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

from chaos.errors import HarnessError

RUN_ID_ENV = "CHAOS_RUN_ID"
RUN_ID = uuid.uuid4().hex
MOUNT_SOURCE_PREFIX = "chaos-"

_WATCHDOG = """
import os, signal, sys
pid, started = int(sys.argv[1]), sys.argv[2]
if sys.stdin.readline().strip() != "release":
    try:
        stat = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        if stat[19] == started:
            os.kill(pid, signal.SIGKILL)
    except OSError:
        pass
"""


class NotOurs(HarnessError, PermissionError):
    """The harness was about to touch a process it did not start; it refuses."""


def owned_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for a process of this run: the harness's own, tagged with the run id."""
    env = dict(os.environ)
    env.update(extra or {})
    env[RUN_ID_ENV] = RUN_ID
    return env


def bound_to_harness(argv: list[str]) -> list[str]:
    """`argv` run so that the kernel kills it when the harness dies (a crashed run leaves nothing)."""
    return ["setpriv", "--pdeathsig", "KILL", "--", *argv]


def run_id_of(pid: int) -> str | None:
    try:
        environ = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return None
    for entry in environ.split(b"\0"):
        if entry.startswith(RUN_ID_ENV.encode() + b"="):
            return entry.split(b"=", 1)[1].decode()
    return None


def is_ours(pid: int, run_id: str = RUN_ID) -> bool:
    return pid != os.getpid() and run_id_of(pid) == run_id


def process_state(pid: int) -> str | None:
    """The one-letter state from /proc (R, S, T stopped, Z exited but not reaped), or None if gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return None


def signal_ours(pid: int, signum: signal.Signals) -> bool:
    """Send `signum` to a process of this run; False if it is already gone. Refuses any other process."""
    if process_state(pid) in (None, "Z", "X"):
        return False
    if not is_ours(pid):
        raise NotOurs(f"pid {pid} was not started by this run ({RUN_ID_ENV} differs); not signalling it")
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        return False
    return True


def start_time(pid: int) -> str | None:
    """The process start time in clock ticks since boot: with the pid, it names one process for good."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def has_execd(pid: int, parent: int) -> bool:
    """Whether a child has exec'd its own program: before that it is a copy of its parent, which waits
    for the exec (a child stopped in between would freeze the parent)."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes() not in (b"", Path(f"/proc/{parent}/cmdline").read_bytes())
    except OSError:
        return False


def children(pid: int) -> list[int]:
    """Direct children of `pid`, oldest first."""
    try:
        found = [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []
    return sorted(found, key=lambda child: int(start_time(child) or 0))


class Watchdog:
    """Kills one stopped process of ours if the harness dies before `release()` (a crashed run)."""

    def __init__(self, pid: int):
        self.pid = pid
        self.process = subprocess.Popen(
            [sys.executable, "-c", _WATCHDOG, str(pid), start_time(pid) or "0"],
            stdin=subprocess.PIPE,
            env=owned_env(),
        )

    def release(self) -> None:
        """The harness healed the process itself: the watchdog leaves it alone and exits."""
        if self.process.poll() is None:
            assert self.process.stdin is not None
            try:
                self.process.stdin.write(b"release\n")
                self.process.stdin.close()
            except BrokenPipeError:
                pass
        self.process.wait()


def leftovers(run_id: str = RUN_ID) -> list[str]:
    """Processes of the run `run_id` that still exist, and host mounts of any run (none, ever)."""
    found = [f"process {pid}: {_command_line(pid)}" for pid in _all_pids() if is_ours(pid, run_id)]
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        fields = line.split(" - ", 1)[1].split()
        if len(fields) > 1 and fields[1].startswith(MOUNT_SOURCE_PREFIX):
            found.append(f"host mount {line}")
    return found


def _command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")[:300]
    except OSError:
        return "(exited)"


def _all_pids() -> list[int]:
    return [int(entry) for entry in os.listdir("/proc") if entry.isdigit()]


def processes_under(directory: Path) -> list[tuple[int, str]]:
    """Live processes whose command line names `directory` or whose working directory is inside it."""
    found = []
    marker = str(directory)
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
            cwd = os.readlink(entry / "cwd")
        except OSError:
            continue  # gone, a zombie, or not ours to read
        if marker in cmdline or cwd == marker or cwd.startswith(marker + "/"):
            found.append((int(entry.name), cmdline[:200]))
    return found


class LiveProcesses:
    """The processes a fault may touch, as the kernel has them (FaultContext.processes, live)."""

    state = staticmethod(process_state)
    signal = staticmethod(signal_ours)
    children = staticmethod(children)
    has_execd = staticmethod(has_execd)

    @staticmethod
    def guard_stopped(pid: int) -> Watchdog:
        """Before SIGSTOP: make sure the process dies if the harness does before SIGCONT."""
        return Watchdog(pid)

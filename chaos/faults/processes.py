"""Worker process faults: the worker killed at a chosen phase, and replacements that fail.

A replacement that crashes at start or never becomes healthy is made by a watcher process of
this run: it sees every new child of the supervisor appear and, as soon as it has exec'd the
worker program, kills it (SIGKILL) or freezes it (SIGSTOP). When the watcher's stdin closes (healed, or the harness died) it kills the
workers it froze and exits. A replacement that cannot start at all is one that cannot open its
log file (the confined orchestrator has no CAP_DAC_OVERRIDE), or else a fault point exits it.
"""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any, Literal

import anyio
from pydantic import Field, model_validator

from chaos.faults.base import Fault, FaultContext, FaultError, FaultParams, Injection
from chaos.faults.phases import Phase, wait_for_phase
from chaos.faults.points import ArmedPoint
from chaos.host.namespace import has_dac_override
from chaos.host.ownership import RUN_ID, RUN_ID_ENV, children, owned_env
from chaos.waiting import wait_until

GONE_WAIT_S = 10.0
_WATCHER = """
import os, signal, sys, threading, time
supervisor, signum, tag = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3].encode()
known = set(int(p) for p in sys.argv[4:])
handled = {}
closed = threading.Event()
threading.Thread(target=lambda: (sys.stdin.read(), closed.set()), daemon=True).start()

def stat_of(pid):
    try:
        return open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    except OSError:
        return None

def read(path):
    try:
        return open(path, "rb").read()
    except OSError:
        return None

supervisor_command = read(f"/proc/{supervisor}/cmdline")

def ready(pid):  # ours, and past exec: stopped between fork and exec, it would freeze its parent in Popen
    command = read(f"/proc/{pid}/cmdline")
    environ = read(f"/proc/{pid}/environ") or b""
    return command not in (None, b"", supervisor_command) and tag in environ.split(b"\\0")

while not closed.is_set():
    try:
        kids = [int(p) for p in open(f"/proc/{supervisor}/task/{supervisor}/children").read().split()]
    except OSError:
        break
    for pid in kids:
        started = stat_of(pid)
        if pid not in known and pid not in handled and started and ready(pid):
            os.kill(pid, signum)
            handled[pid] = started[19]
            print(pid, flush=True)
    time.sleep(0.005)
closed.wait()
for pid, started in handled.items():
    now = stat_of(pid)
    if now is not None and now[19] == started and now[0] not in "ZX":
        os.kill(pid, signal.SIGKILL)
"""


class WorkerCrashParams(FaultParams):
    at_phase: Phase | None = Field(None, description="kill when a restart reaches this phase (None: now)")
    which: Literal["serving", "replacement", "starting"] = Field(
        "serving",
        description="the worker serving, the one replacing it, or one still starting (spawned, not yet serving: the first "
        "after a start, or a crash recovery's replacement), killed as soon as one exists",
    )

    at_point: Literal["snapshot.mid_write", "snapshot.before_rename"] | None = Field(
        None,
        description="the serving worker kills itself (SIGKILL) at this point of its next snapshot write: inside the "
        "temp file's write once after_bytes are written, or after the temp file is written and fsynced, before its rename",
    )
    after_bytes: int = Field(0, ge=0, description="with at_point snapshot.mid_write: bytes of the temp file written first")

    @model_validator(mode="after")
    def _replacement_during_a_restart(self) -> WorkerCrashParams:
        if self.at_point is not None and (self.at_phase is not None or self.which != "serving"):
            raise ValueError("at_point acts in the serving worker's own snapshot write: no at_phase, which=serving")
        if self.after_bytes and self.at_point != "snapshot.mid_write":
            raise ValueError("after_bytes needs at_point snapshot.mid_write")
        if self.which == "replacement" and self.at_phase is None:
            raise ValueError("which=replacement needs at_phase: a replacement exists only during a restart")
        if self.which == "starting" and self.at_phase is not None:
            raise ValueError("which=starting takes no at_phase: it acts as soon as a worker is starting")
        return self


class WorkerCrash(Fault):
    name = "worker_crash"
    summary = "The worker process is killed (SIGKILL) now or at a chosen restart phase."
    guide_sections = ("recovery.complete.step-1", "recovery.complete.step-5", "issue-3.symptom-1")
    expected_error_codes = ()
    mechanism = "SIGKILL of a worker process of this run's supervisor"
    Params = WorkerCrashParams

    def __init__(self, **params: Any):
        super().__init__(**params)
        self._armed: ArmedPoint | None = None

    async def inject(self, ctx: FaultContext) -> Injection:
        if self.params.at_point is not None:
            return self._arm_self_kill(ctx)
        phase = None
        if self.params.at_phase is not None:
            phase = (await wait_for_phase(ctx, self.params.at_phase))["phase"]
        supervisor = ctx.supervisor_pid()
        if self.params.which == "starting":
            pid = await wait_until(lambda: _starting_worker(ctx), GONE_WAIT_S, "a worker process that is starting")
        elif self.params.which == "serving":
            pid = await ctx.worker_pid()
        else:
            serving = await ctx.worker_pid()
            others = [child for child in ctx.processes.children(supervisor) if child != serving] if supervisor else []
            pid = others[-1] if others else None
        if pid is None:
            raise FaultError(f"worker_crash: no {self.params.which} worker process is running")
        if supervisor is not None:  # killed between fork and exec, it would not be the worker crashing
            await wait_until(lambda: ctx.processes.has_execd(pid, supervisor), GONE_WAIT_S, f"pid {pid} to exec the worker")
        ctx.processes.signal(pid, signal.SIGKILL)
        await wait_until(lambda: ctx.processes.state(pid) in (None, "Z", "X"), GONE_WAIT_S, f"worker pid {pid} to die")
        return self.record(self.mechanism, True, worker_pid=pid, which=self.params.which, phase=phase)

    def _arm_self_kill(self, ctx: FaultContext) -> Injection:
        """The kill is real (SIGKILL, nothing cleaned up); only its moment is chosen by a fault point, because
        no outside observer can stop a process between two of its system calls."""
        spec = {"action": "crash", "after_bytes": self.params.after_bytes}
        self._armed = ArmedPoint(ctx, self.params.at_point, spec)
        return self.record(
            f"SIGKILL the worker sends itself at {self._armed.mechanism}", True, at_point=self.params.at_point,
            after_bytes=self.params.after_bytes,
        )  # fmt: skip

    async def heal(self) -> None:
        """Disarm the point; a killed process stays dead, and bringing a worker back is the orchestrator's job."""
        if self._armed is not None:
            self._armed.disarm()
            self._armed = None


async def _starting_worker(ctx: FaultContext) -> int | None:
    """The newest child of the supervisor that is still starting. Live: it runs the worker program but
    has not opened the database yet, which a worker does just before it can serve (asking the
    supervisor which worker serves takes longer than a worker takes to start). Simulated: younger
    than the worker the supervisor serves with (any, before the first serves); older children are
    replaced workers on their way out."""
    supervisor = ctx.supervisor_pid()
    if supervisor is None:
        return None
    workers = ctx.processes.children(supervisor)
    if not ctx.simulated:
        database = ctx.paths.database.name
        starting = [pid for pid in workers if ctx.processes.has_execd(pid, supervisor) and not _has_open(pid, database)]
        return starting[-1] if starting else None
    serving = await ctx.worker_pid()
    return next(iter(workers[workers.index(serving) + 1 :] if serving in workers else workers[-1:]), None)


def _has_open(pid: int, name: str) -> bool:
    """Whether process `pid` holds a file called `name` open (unreadable counts as yes: leave it alone)."""
    try:
        return any(os.readlink(entry).endswith("/" + name) for entry in Path(f"/proc/{pid}/fd").iterdir())
    except OSError:
        return True


class ReplacementFailsParams(FaultParams):
    mode: Literal["cannot_start", "crashes_at_start", "never_healthy"] = "crashes_at_start"


class ReplacementFails(Fault):
    name = "replacement_fails"
    summary = "Every new worker process fails: it cannot start, it crashes at start, or it never becomes healthy."
    guide_sections = ("RESTART_006", "recovery.complete.step-4")
    expected_error_codes = ("RESTART_006",)
    mechanism = (
        "a watcher process SIGKILLs (crashes_at_start) or SIGSTOPs (never_healthy) each new worker as it appears; "
        "cannot_start: the worker's log file made unwritable to the confined orchestrator"
    )
    fallback = "cannot_start: fault point worker.start exiting with status 2"
    Params = ReplacementFailsParams

    def __init__(self, **params: Any):
        super().__init__(**params)
        self._watcher: subprocess.Popen[bytes] | None = None
        self._restore: tuple[Path, int] | None = None
        self._armed: ArmedPoint | None = None

    async def inject(self, ctx: FaultContext) -> Injection:
        supervisor = ctx.supervisor_pid()
        if supervisor is None:
            raise FaultError("replacement_fails: no supervisor is running")
        if ctx.simulated:
            return self._arm_start_point(ctx)
        if self.params.mode == "cannot_start":
            return self._make_unstartable(ctx, supervisor)
        signum = signal.SIGKILL if self.params.mode == "crashes_at_start" else signal.SIGSTOP
        self._watcher = subprocess.Popen(
            [sys.executable, "-c", _WATCHER, str(supervisor), str(int(signum)), f"{RUN_ID_ENV}={RUN_ID}"]
            + [str(pid) for pid in children(supervisor)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=owned_env(),
        )
        return self.record(self.mechanism, True, mode=self.params.mode, watcher_pid=self._watcher.pid, signal=signum.name)

    SIMULATED_START = {
        "cannot_start": {"action": "exit", "code": 2},
        "crashes_at_start": {"action": "crash"},
        "never_healthy": {"action": "hang"},
    }

    def _arm_start_point(self, ctx: FaultContext) -> Injection:
        """Sim mode: every new in-process worker meets the failure at fault point worker.start."""
        self._armed = ArmedPoint(ctx, "worker.start", self.SIMULATED_START[self.params.mode])
        return self.record(self._armed.mechanism, False, "simulated run: no worker processes to watch", mode=self.params.mode)

    def _make_unstartable(self, ctx: FaultContext, supervisor: int) -> Injection:
        log_file = ctx.paths.log_file
        if has_dac_override(supervisor):
            reason = f"supervisor pid {supervisor} has CAP_DAC_OVERRIDE: no file permission stops its workers (start it confined)"
            self._armed = ArmedPoint(ctx, "worker.start", {"action": "exit", "code": 2})
            return self.record(self._armed.mechanism, False, reason, mode=self.params.mode)
        mode = stat.S_IMODE(log_file.stat().st_mode)
        self._restore = (log_file, mode)
        log_file.chmod(0o444)
        return self.record(
            "the worker's log file made read-only: a new worker cannot open it and exits at start",
            True,
            mode=self.params.mode,
            log_file=log_file.name,
        )

    async def heal(self) -> None:
        if self._watcher is not None:
            watcher, self._watcher = self._watcher, None
            assert watcher.stdin is not None and watcher.stdout is not None
            watcher.stdin.close()
            output = await anyio.to_thread.run_sync(watcher.stdout.read)
            await anyio.to_thread.run_sync(watcher.wait)
            watcher.stdout.close()
            if self.injection is not None:
                self.injection.details["victims"] = [int(line) for line in output.split()]
        if self._restore is not None:
            log_file, mode = self._restore
            if log_file.exists():
                log_file.chmod(mode)
            self._restore = None
        if self._armed is not None:
            self._armed.disarm()
            self._armed = None

"""The orchestrator of one simulated scenario run: supervisor and workers in this process.

It stands where chaos.target.live.server.Server stands in a live run and answers the same questions
(start, clients, pids, fault context, stop), so every step runs unchanged. The supervisor is the
real one (`running_supervisor`) with the real restart coordinator; its workers are
InProcessWorkers, and its clients are SDK clients on the in-memory transport. Pids are made up
above the kernel's largest possible pid, so nothing here can ever name a real process.
"""

from __future__ import annotations

import logging
import signal
import traceback
from collections.abc import Iterator
from contextlib import AsyncExitStack, contextmanager
from pathlib import Path
from typing import Any

import anyio
from anyio.abc import TaskGroup, TaskStatus
from mcp import Client

from chaos.errors import unwrapped
from chaos.faults.base import FaultContext
from chaos.target.live.server import STDERR_LOG
from chaos.target.sim.processes import SimulatedProcesses
from chaos.target.sim.worker import InProcessWorker
from orchestrator import clock as orchestrator_clock
from orchestrator import lockfile
from orchestrator.config import Paths
from orchestrator.logs import log_format
from orchestrator.supervisor.server import build_parser, running_supervisor, settings_from
from orchestrator.supervisor.worker_process import WorkerHandle

log = logging.getLogger("orchestrator.supervisor.server")

FIRST_PID = 5_000_000  # above PID_MAX_LIMIT (4,194,304): never a real process
SIMULATED_RESOURCES = {"note": "simulated run: no separate processes to measure"}


class SimulatedLogTimes(logging.Formatter):
    """Lines as a live server.log has them, stamped with the simulation's wall clock (in local time, as
    live), so that a replay writes the same log and a step that greps it sees the same lines."""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        now = orchestrator_clock.utc_now().astimezone()
        return f"{now:%Y-%m-%d %H:%M:%S},{now.microsecond // 1000:03d}"


@contextmanager
def server_log(paths: Paths, pid: int) -> Iterator[None]:
    """The orchestrator's records go to its server.log, as a live one's do (runbooks grep it), and
    only there: the simulator's own terminal stays quiet. `pid`: the simulated supervisor's."""
    paths.logs.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(paths.log_file, encoding="utf-8")
    handler.setFormatter(SimulatedLogTimes(log_format("sim", pid)))
    logger = logging.getLogger("orchestrator")
    previous = logger.level, logger.propagate
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous[0])
        logger.propagate = previous[1]
        handler.close()


class SimulatedOrchestrator:
    transport = "sim"

    def __init__(self, base: Path, args: list[str], faultpoints_file: Path, processes: SimulatedProcesses | None = None):
        self.base = base
        self.settings = settings_from(build_parser().parse_args(args))
        self.faultpoints = faultpoints_file
        self.processes = processes or SimulatedProcesses(FIRST_PID)  # a run's orchestrators share one table
        self.clients: list[Client] = []
        self.supervisor: int | None = None
        self._workers: list[InProcessWorker] = []
        self._runtime: Any = None
        self._release: anyio.Event | None = None
        self._released = anyio.Event()
        self.crash: str | None = None  # why the supervisor ended on its own, if it did

    url = None
    confine = None  # no mount namespace: disk faults fail at fault points
    protocol = "in-memory"

    @property
    def running(self) -> bool:
        return self._release is not None and not self._release.is_set()

    @property
    def paths(self) -> Paths:
        return Paths(self.base)

    async def start(self, group: TaskGroup, clients: int) -> None:
        self._release, self._released = anyio.Event(), anyio.Event()
        await group.start(self._hold, clients)

    def _make_worker(self, paths: Paths, generation: int) -> WorkerHandle:
        worker = InProcessWorker(paths, generation, self.processes.allocate(), self.faultpoints)
        self.processes.add_worker(worker, parent=self.supervisor)
        self._workers.append(worker)
        return worker

    async def _hold(self, clients: int, *, task_status: TaskStatus[None]) -> None:
        assert self._release is not None
        paths = self.paths
        note = lockfile.acquire(paths.lock_file)  # LockHeld if another orchestrator holds it, as live
        self.supervisor = self.processes.allocate_supervisor()
        started = False
        try:
            async with AsyncExitStack() as stack:
                stack.enter_context(server_log(paths, self.supervisor))
                if note:
                    log.warning(note)
                supervisor = await stack.enter_async_context(
                    running_supervisor(paths, self.settings, self._make_worker)
                )
                self._runtime = supervisor.runtime
                supervisor.runtime.supervisor_pid = self.supervisor
                supervisor.runtime.resource_usage = lambda *_: dict(SIMULATED_RESOURCES)
                for _ in range(clients):
                    self.clients.append(await stack.enter_async_context(Client(supervisor.server)))
                task_status.started()
                started = True
                await self._release.wait()
        except Exception as exc:
            if not started:
                raise  # start() reports it
            # The supervisor crashed: as a live one's process would, it is gone, its traceback on stderr.
            self.crash = f"the supervisor crashed: {unwrapped(exc)!r}"
            with open(self.base / STDERR_LOG, "a", encoding="utf-8") as stderr:
                traceback.print_exception(exc, file=stderr)
        finally:
            self._release.set()
            lockfile.release(paths.lock_file)
            self.processes.supervisor_gone(self.supervisor)
            self._released.set()

    def extra_client(self) -> None:
        return None  # no endpoint to connect to: extra load clients share the first client, as over stdio

    def supervisor_alive(self) -> bool:
        return self.running

    async def worker_pid(self) -> int | None:
        worker = self._runtime.worker if self._runtime is not None and self.running else None
        return worker.pid if worker is not None and worker.alive else None

    def fault_context(self, call_tool: Any) -> FaultContext:
        async def serving_worker() -> int | None:
            return await self.worker_pid()

        return FaultContext(
            paths=self.paths,
            scratch=self.faultpoints.parent,
            supervisor_pid=lambda: self.supervisor if self.running else None,
            worker_pid=serving_worker,
            call_tool=call_tool if self.running else None,
            faultpoints=self.faultpoints,
            processes=self.processes,
            simulated=True,
        )

    async def stop(self, how: str = "SIGTERM") -> int | None:
        """SIGTERM stops the workers politely; SIGKILL ends them mid-step, as a kill of the process group would."""
        if self._release is None:
            return None
        if how == "SIGKILL" and self.running:
            for worker in self._workers:
                worker.signal(signal.SIGKILL)
        self._release.set()
        with anyio.CancelScope(shield=True):
            await self._released.wait()
        self.clients, self.supervisor, self._runtime = [], None, None
        return -signal.SIGKILL if how == "SIGKILL" else 0

    def describe(self) -> dict[str, Any]:
        return {
            "transport": self.transport,
            "url": None,
            "supervisor_pid": self.supervisor,
            "clients": len(self.clients),
            "confined": False,
            "protocol": "in-memory",
        }


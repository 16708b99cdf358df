"""A worker served inside the simulator's process, standing in for a worker process.

It is the real worker (`orchestrator.worker.running_worker`: the same store, jobs and tools)
reached through the SDK's in-memory transport instead of a pipe. That transport runs a tool in
the caller's task, so each call is bound to this worker's state (`serving_as`) and to a cancel
scope of this worker. Its pid is made up by the simulation; signals are mapped onto it: SIGKILL
cancels it and every call it is serving at once (its SQLite connection is closed, an open
transaction rolls back, as after a real kill), SIGSTOP makes it stop answering until SIGCONT. A
fault point or I/O operation that would end the process raises ProcessExit, which ends only this
worker: the caller sees the worker gone, as it would see a closed pipe.
"""

from __future__ import annotations

import logging
import signal
from pathlib import Path
from typing import Any

import anyio
from anyio.abc import TaskGroup, TaskStatus
from mcp import Client
from mcp_types import CallToolResult

from orchestrator import clock, faultpoints
from orchestrator.config import Paths
from orchestrator.control import ControlTool
from orchestrator.supervisor.worker_process import WorkerGone, WorkerHandle
from orchestrator.worker import WorkerState, running_worker, serving, serving_as

log = logging.getLogger(__name__)


class InProcessWorker(WorkerHandle):
    def __init__(self, paths: Paths, generation: int, pid: int, armed_file: Path):
        super().__init__(paths, generation)
        self.pid = pid
        self.armed_file = armed_file
        self._scope: anyio.CancelScope | None = None
        self._calls: set[anyio.CancelScope] = set()
        self._state: WorkerState | None = None
        self._running = anyio.Event()  # cleared while "SIGSTOPped"
        self._running.set()

    async def start(self, task_group: TaskGroup, timeout_s: float) -> None:
        with anyio.fail_after(timeout_s):
            await task_group.start(self._run)
            await self.control(ControlTool.FACTS, {}, timeout_s)
        self.ready_after_s = clock.monotonic() - self.started_monotonic

    async def _run(self, *, task_status: TaskStatus[None]) -> None:
        started = False
        try:
            with anyio.CancelScope() as self._scope, faultpoints.in_process(self.armed_file):
                async with running_worker(self.paths, standalone=False) as app, Client(app) as client:
                    self._client, self._state = client, serving()
                    task_status.started()
                    started = True
                    await self._stop.wait()
        except* faultpoints.ProcessExit as group:
            self._mark_exited(f"worker pid {self.pid} ended: {group.exceptions[0]}")
        except* Exception as group:
            self._mark_exited(f"worker pid {self.pid} failed: {group.exceptions[0]!r}")
        finally:
            self._client = None
            self._mark_exited(self.exit_reason or ("stopped" if started else "killed while starting"))
        if not started:
            raise WorkerGone(f"worker generation {self.generation} failed to start: {self.exit_reason}")

    def process_running(self) -> bool:
        return self.alive

    def is_stopped_by_signal(self) -> bool:
        return not self._running.is_set()

    async def call_tool(self, name: str, arguments: dict[str, Any], timeout_s: float | None) -> CallToolResult:
        with anyio.fail_after(timeout_s) if timeout_s else anyio.CancelScope():
            await self._running.wait()  # a stopped process does not answer
        if self._state is None:
            raise WorkerGone(f"worker generation {self.generation} is not running")
        with anyio.CancelScope() as call:
            self._calls.add(call)
            try:
                with serving_as(self._state), faultpoints.in_process(self.armed_file):
                    return await super().call_tool(name, arguments, timeout_s)
            except faultpoints.ProcessExit as exc:
                self.kill(f"worker pid {self.pid} ended in {name}: {exc}")
            finally:
                self._calls.discard(call)
        raise WorkerGone(f"worker pid {self.pid} ended while answering {name}: {self.exit_reason}")

    def kill(self, reason: str | None = None) -> None:
        if self._scope is not None and self.alive:
            self._mark_exited(reason or f"worker pid {self.pid} killed")
            self._scope.cancel()
            for call in list(self._calls):
                call.cancel()
        self._running.set()
        self._stop.set()

    def signal(self, signum: int) -> None:
        if signum == signal.SIGKILL:
            self.kill()
        elif signum == signal.SIGSTOP:
            self._running = anyio.Event()
        elif signum == signal.SIGCONT:
            self._running.set()
        else:
            raise ValueError(f"the simulator does not model signal {signal.Signals(signum).name}")


"""The orchestrator of one scenario run, over HTTP or stdio, with its connected clients.

It wraps chaos.target.live.orchestrator so both transports look the same to the steps: start (again after a stop,
on the same files), the clients, the supervisor and current worker pids, the fault context, stop
politely or by force. Every process it starts carries this harness's run id (chaos.host.ownership), so
faults and steps may signal them and nothing else. The fault point file is always given, so
fault-point faults can be armed before or after the start.
"""

from __future__ import annotations

import dataclasses
import signal
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack
from pathlib import Path
from typing import Any

import anyio
from anyio.abc import TaskGroup, TaskStatus
from mcp import Client
from mcp.client.stdio import stdio_client as stdio_transport

from chaos.faults.base import FaultContext
from chaos.host import ownership
from chaos.host.namespace import Confinement
from chaos.target.client import call, scratch_dir
from chaos.target.live.orchestrator import HttpOrchestrator, child_pids, stdio_client
from orchestrator import lockfile
from orchestrator.config import Paths
from orchestrator.faultpoints import FAULTPOINTS_ENV

STOP_TIMEOUT_S = 15.0
STDERR_LOG = "supervisor.stderr.log"  # beside .task_orchestrator/, as chaos.target.live.orchestrator names it
CallTool = Callable[[str, dict[str, Any]], Awaitable[dict[str, Any]]]


class Server:
    """The orchestrator and its clients, held open by a task of the run's background task group.

    MCP clients keep task groups of their own open while connected, so they must be entered and
    left in one task: that task is `_hold`, and steps only ever call through the clients.
    """

    def __init__(
        self, base: Path, transport: str, args: list[str], env: dict[str, str], confine: Confinement | None, protocol: str = "auto"
    ):
        self.base = base
        self.transport = transport
        self.protocol = protocol
        self.args = args
        self.env = env
        self.confine = confine
        self.faultpoints = scratch_dir(base) / "faultpoints.json"
        self.processes = ownership.LiveProcesses()
        self.clients: list[Client] = []
        self.http: HttpOrchestrator | None = None
        self.supervisor: int | None = None
        self.crash: str | None = None  # sim only: a live supervisor that dies is a process exit its clients see
        self._release: anyio.Event | None = None
        self._released = anyio.Event()

    @property
    def url(self) -> str | None:
        return self.http.url if self.http and self.running else None

    @property
    def running(self) -> bool:
        return self._release is not None and not self._release.is_set()

    @property
    def paths(self) -> Paths:
        """The orchestrator's files as it sees them (through its mount namespace when confined)."""
        return self.http.paths if self.http else Paths(self.base)

    async def start(self, group: TaskGroup, clients: int) -> None:
        """Start the supervisor and connect `clients` clients; on failure nothing is left running."""
        self._release = anyio.Event()
        await group.start(self._hold, clients)

    async def _hold(self, clients: int, *, task_status: TaskStatus[None]) -> None:
        assert self._release is not None
        serving = False
        try:
            async with AsyncExitStack() as stack:
                if self.transport == "http":
                    self.http = HttpOrchestrator(self.base, self.args, self.env, self.confine, faultpoints=True)
                    stack.push_async_callback(self._stop_http, self.http)
                    await self.http.start()
                    self.supervisor = self.http.pid
                    for _ in range(clients):
                        self.clients.append(await stack.enter_async_context(self.http.client(mode=self.protocol)))
                else:
                    scratch_dir(self.base).mkdir(parents=True, exist_ok=True)
                    env = {**self.env, FAULTPOINTS_ENV: str(self.faultpoints)}
                    parameters = stdio_client(self.base, self.args, env).server
                    log = stack.enter_context(open(self.base / STDERR_LOG, "a"))  # closed by the stack
                    client = Client(stdio_transport(parameters, errlog=log), cache=None, mode=self.protocol)  # stderr to the log
                    self.clients.append(await stack.enter_async_context(client))
                    self.supervisor = lockfile.read_owner(Paths(self.base).lock_file)
                task_status.started()
                serving = True
                await self._release.wait()
        except Exception:
            if not serving:
                raise  # start() reports it
            # a client of a killed server fails to close cleanly; the processes are what matter
        finally:
            self._release.set()
            self._released.set()

    @staticmethod
    async def _stop_http(http: HttpOrchestrator) -> None:
        with anyio.CancelScope(shield=True):
            await http.stop(STOP_TIMEOUT_S)

    def extra_client(self) -> AbstractAsyncContextManager[Client] | None:
        """A new connection to the running orchestrator; over stdio there is only the one."""
        return self.http.client(mode=self.protocol) if self.http else None

    def supervisor_alive(self) -> bool:
        """Running, or stopped: not gone, and not a zombie this harness has yet to reap (a runbook's pkill -9)."""
        return self.supervisor is not None and ownership.process_state(self.supervisor) not in (None, "Z", "X")

    async def worker_pid(self) -> int | None:
        """The worker serving now. With two children (a restart under way, or the old worker of one
        just done still stopping) only the supervisor knows which one serves, so it is asked."""
        pids = child_pids(self.supervisor) if self.running and self.supervisor else []
        if len(pids) > 1 and self.clients:
            health = await call(self.clients[0], "orchestrator_health_check", {"include_database_status": False}, 60)
            if health.get("worker_pid") in pids:
                return health["worker_pid"]
        return pids[0] if pids else None

    def fault_context(self, call_tool: CallTool | None) -> FaultContext:
        if self.http is not None and self.running:
            context = self.http.fault_context()
            if call_tool is None:
                return context

            async def serving_worker() -> int | None:
                """The worker serving now, as the supervisor says: during a restart it has two children."""
                if not self.running:
                    return None
                health = await call_tool("orchestrator_health_check", {"include_database_status": False})
                return health.get("worker_pid")

            return dataclasses.replace(context, call_tool=call_tool, worker_pid=serving_worker)
        return FaultContext(
            paths=Paths(self.base),
            scratch=scratch_dir(self.base),
            supervisor_pid=lambda: self.supervisor if self.running else None,
            worker_pid=self.worker_pid,
            call_tool=call_tool if self.running else None,
            faultpoints=self.faultpoints,
        )

    async def stop(self, how: str = "SIGTERM") -> int | None:
        """Stop the orchestrator; SIGKILL takes the supervisor and its workers down at once, as pkill would."""
        if self._release is None:
            return None
        if how == "SIGKILL" and self.supervisor is not None and not self._release.is_set():
            for pid in [self.supervisor, *child_pids(self.supervisor)]:
                ownership.signal_ours(pid, signal.SIGKILL)
        self._release.set()
        with anyio.CancelScope(shield=True):
            await self._released.wait()
        code = self.http.process.returncode if self.http and self.http.process else None
        self.clients, self.supervisor = [], None
        return code

    def describe(self) -> dict[str, Any]:
        return {
            "transport": self.transport,
            "url": self.url,
            "supervisor_pid": self.supervisor,
            "clients": len(self.clients),
            "confined": self.confine is not None,
            "protocol": self.protocol,
        }

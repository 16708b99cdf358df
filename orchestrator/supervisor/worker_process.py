"""One worker process, and the supervisor's MCP client connection to it (stdio pipe, official SDK).

The handle owns the process from spawn to exit: it knows the pid (reported by the worker
itself), notices when the process dies, and can stop it politely or by force. Only processes
started here are ever signalled.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
from pathlib import Path
from typing import Any

import anyio
from anyio.abc import TaskGroup, TaskStatus
from mcp import Client, StdioServerParameters
from mcp.shared.exceptions import MCPError
from mcp_types import CallToolRequest, CallToolRequestParams, CallToolResult

from orchestrator import clock
from orchestrator.config import Paths
from orchestrator.control import ControlTool
from orchestrator.errors import OrchestratorError

log = logging.getLogger(__name__)

WORKER_MODULE = "mcp_task_orchestrator.worker"
GENERATION_FLAG = "--generation"
EXIT_POLL_S = 0.05


class WorkerGone(OrchestratorError, RuntimeError):
    """The worker process exited or its pipe closed; the call may be replayed on a new worker."""


class WorkerCallFailed(OrchestratorError, RuntimeError):
    """A control call returned an error instead of a result."""


def process_state(pid: int) -> str | None:
    """The one-letter state from /proc (R, S, T for stopped, Z for exited), or None if gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[0]


def own_worker_child(generation: int) -> int | None:
    """The pid of this process's child running worker `generation`, found before the worker can say
    it itself: a worker that is still starting can then be named in the log and killed."""
    me = os.getpid()
    marker = [GENERATION_FLAG.encode(), str(generation).encode()]
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            fields = Path(entry.path, "stat").read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) != me:
                continue
            argv = Path(entry.path, "cmdline").read_bytes().split(b"\0")
        except (OSError, IndexError, ValueError):
            continue
        if WORKER_MODULE.encode() in argv and any(argv[i : i + 2] == marker for i in range(len(argv))):
            return int(entry.name)
    return None


class WorkerHandle:
    def __init__(self, paths: Paths, generation: int, extra_args: list[str] | None = None):
        self.paths = paths
        self.generation = generation
        self.extra_args = extra_args or []
        self.pid: int | None = None
        self.started_monotonic = clock.monotonic()
        self.ready_after_s: float | None = None
        self.exited = anyio.Event()
        self.exit_reason: str | None = None
        self._client: Client | None = None
        self._stop = anyio.Event()

    def __repr__(self) -> str:
        return f"<worker gen={self.generation} pid={self.pid}>"

    @property
    def alive(self) -> bool:
        return not self.exited.is_set()

    async def start(self, task_group: TaskGroup, timeout_s: float) -> None:
        """Spawn the process and wait until it answers; raises WorkerGone or TimeoutError."""
        task_group.start_soon(self._name_while_starting)
        with anyio.fail_after(timeout_s):
            await task_group.start(self._run)
            facts = await self.control(ControlTool.FACTS, {}, timeout_s)
        self.pid = int(facts["pid"])
        self.ready_after_s = clock.monotonic() - self.started_monotonic
        task_group.start_soon(self._watch_process)
        log.info(
            "worker generation %d ready as pid %d after %.3fs", self.generation, self.pid, self.ready_after_s
        )

    async def _name_while_starting(self) -> None:
        """Learn the pid of the process being started, so that a worker lost or abandoned while it
        starts is named in the log and killed, not left behind."""
        while self.pid is None and self.alive:
            pid = own_worker_child(self.generation)
            if pid is not None:
                self.pid = pid
                log.info("worker generation %d starting as pid %d", self.generation, pid)
                if self._stop.is_set():  # abandoned before its pid was known
                    self.kill()
                return
            await anyio.sleep(EXIT_POLL_S)

    async def _run(self, *, task_status: TaskStatus[None]) -> None:
        parameters = StdioServerParameters(
            command=sys.executable,
            args=[
                "-m",
                WORKER_MODULE,
                "--base-dir",
                str(self.paths.base),
                GENERATION_FLAG,
                str(self.generation),
                *self.extra_args,
            ],
            env=dict(os.environ),
            cwd=str(self.paths.base),
        )
        try:
            async with Client(parameters, cache=None) as client:
                self._client = client
                task_status.started()
                await self._stop.wait()
        except Exception as exc:  # the SDK surfaces a dead pipe in many shapes
            self._mark_exited(f"connection to worker ended: {exc!r}")
            if self._client is None:
                raise WorkerGone(
                    f"worker generation {self.generation} (pid {self.pid}) failed to start: {exc}"
                ) from exc
        finally:
            self._client = None
            self._mark_exited(self.exit_reason or "stopped")

    async def _watch_process(self) -> None:
        while self.alive:
            state = process_state(self.pid) if self.pid else None
            if state in (None, "Z", "X"):
                self._mark_exited(f"worker pid {self.pid} exited")
                self._stop.set()
                return
            await anyio.sleep(EXIT_POLL_S)

    def _mark_exited(self, reason: str) -> None:
        if not self.exited.is_set():
            self.exit_reason = reason
            self.exited.set()
            log.info("worker generation %d (pid %s): %s", self.generation, self.pid, reason)

    def process_running(self) -> bool:
        """Asked of the kernel now, not of the watcher, which polls."""
        return self.pid is not None and process_state(self.pid) not in (None, "Z", "X")

    def is_stopped_by_signal(self) -> bool:
        return self.pid is not None and process_state(self.pid) == "T"

    async def call_tool(
        self, name: str, arguments: dict[str, Any], timeout_s: float | None
    ) -> CallToolResult:
        client = self._client
        if client is None or not self.alive:
            raise WorkerGone(f"worker generation {self.generation} is not running")
        try:
            session = client.session
        except RuntimeError as exc:  # the connection closed a moment ago: not entered any more
            raise WorkerGone(f"worker generation {self.generation}: {exc}") from exc
        request = CallToolRequest(params=CallToolRequestParams(name=name, arguments=arguments))
        try:
            # Not `client.call_tool`: on the first call of each tool on a new worker, it lists the tools
            # and compiles a validator for the output schema, inside a restart's held window. The worker
            # is our own code, and the end client validates what it receives anyway.
            return await session.send_request(request, CallToolResult, request_read_timeout_seconds=timeout_s)
        except MCPError as exc:
            if not self.alive or "closed" in str(exc).lower():
                raise WorkerGone(str(exc)) from exc
            raise
        except (anyio.ClosedResourceError, anyio.BrokenResourceError, anyio.EndOfStream) as exc:
            raise WorkerGone(repr(exc)) from exc

    async def control(self, name: str, arguments: dict[str, Any], timeout_s: float) -> dict[str, Any]:
        """Call a `control_*` tool and return its structured result; a timeout raises TimeoutError."""
        with anyio.fail_after(timeout_s):
            result = await self.call_tool(name, arguments, timeout_s)
        if result.is_error or not isinstance(result.structured_content, dict):
            text = " ".join(getattr(block, "text", "") for block in result.content)
            raise WorkerCallFailed(f"{name} failed on worker pid {self.pid}: {text}")
        return result.structured_content

    async def list_tools(self) -> list[Any]:
        if self._client is None:
            raise WorkerGone("worker is not running")
        return (await self._client.list_tools()).tools

    async def stop(self, grace_s: float = 5.0) -> None:
        """Close the pipe (the worker exits on EOF); SIGKILL if it is still there after `grace_s`."""
        self._stop.set()
        with anyio.move_on_after(grace_s):
            await self.exited.wait()
        if self.process_running():
            self.kill()

    def kill(self) -> None:
        """Force the process down (emergency restart): SIGKILL works even on a SIGSTOPped process."""
        if self.pid and process_state(self.pid) not in (None, "Z", "X"):
            os.kill(self.pid, signal.SIGKILL)
            log.warning("worker pid %d killed", self.pid)
        self._stop.set()

"""The supervisor's live state: the current worker, the buffer, the sessions, and forwarding.

Forwarding is where "nothing lost, nothing twice" is kept: a call that changes tasks gets an
idempotency key before it is sent, so if the worker dies under it, the same call (same key) is
replayed on the replacement and the database applies it at most once.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import anyio
from anyio.abc import TaskGroup
from mcp_types import CallToolResult, TextContent, Tool

from orchestrator import clock, entropy
from orchestrator.config import Paths
from orchestrator.errors import RestartError, RestartFailure
from orchestrator.history import HistoryEntry, RestartHistory
from orchestrator.supervisor.buffer import RequestBuffer
from orchestrator.supervisor.phases import PhaseTracker
from orchestrator.supervisor.resources import resource_usage
from orchestrator.supervisor.sessions import SessionRegistry
from orchestrator.supervisor.worker_process import WorkerCallFailed, WorkerGone, WorkerHandle
from orchestrator.worker import CONTROL_PREFIX

log = logging.getLogger(__name__)

IDEMPOTENCY_ARGUMENT = "idempotency_key"
MAX_REPLAYS = 3


@dataclass
class SupervisorSettings:
    worker_start_timeout_s: float = 30.0
    call_timeout_s: float = 120.0
    control_timeout_s: float = 10.0
    buffer_per_session: int = 100
    buffer_total: int = 1000
    grace_period_s: float = 60.0
    stuck_after_s: float = 10.0
    stop_grace_s: float = 5.0
    early_start: bool = True


def json_result(payload: dict[str, Any], is_error: bool = False) -> CallToolResult:
    """A tool result whose structured content is `payload` (with the same JSON as text, for older clients)."""
    return CallToolResult(
        content=[TextContent(type="text", text=json.dumps(payload, default=str))],
        structured_content=payload,
        is_error=is_error,
    )


def error_result(failure: RestartFailure) -> CallToolResult:
    """A tool result carrying one of the guide's error codes."""
    return json_result({"success": False, **failure.fields()}, is_error=True)


WorkerFactory = Callable[[Paths, int], WorkerHandle]  # (paths, generation) -> a handle not yet started


class Runtime:
    def __init__(
        self,
        paths: Paths,
        settings: SupervisorSettings,
        task_group: TaskGroup,
        worker_factory: WorkerFactory = WorkerHandle,
    ):
        self.paths = paths
        self.worker_factory = worker_factory
        self.supervisor_pid = os.getpid()
        self.resource_usage = resource_usage  # (supervisor pid, worker pid, state dir) -> figures
        self.settings = settings
        self.task_group = task_group
        self.worker: WorkerHandle | None = None
        self.generation = 0
        self.buffer = RequestBuffer(settings.buffer_per_session, settings.buffer_total)
        self.sessions = SessionRegistry(settings.grace_period_s)
        self.history = RestartHistory(paths)
        self.tracker = PhaseTracker()
        self.restarting = False
        self.shutting_down = False
        self.degraded: RestartFailure | None = None
        self.reboot_init_error: str | None = None
        self.started_at = clock.utc_now().isoformat()
        self.started_monotonic = clock.monotonic()
        self.worker_tools: list[Tool] = []
        self._in_flight: dict[int, int] = {}
        self._drained: dict[int, anyio.Event] = {}
        self._recovering = anyio.Lock()
        self._recovery_tried_for: WorkerHandle | None = None
        self._recovery: anyio.CancelScope | None = None  # of the crash recovery under way
        self.first_worker_ready = anyio.Event()

    # -- workers ---------------------------------------------------------------------------
    async def spawn_worker(self) -> WorkerHandle:
        self.generation += 1
        handle = self.worker_factory(self.paths, self.generation)
        try:
            await handle.start(self.task_group, self.settings.worker_start_timeout_s)
        except BaseException:
            handle.kill()  # a worker that failed (or was abandoned) while starting is not left behind
            raise
        return handle

    async def activate(self, handle: WorkerHandle, mode: str, timeout_s: float) -> dict[str, Any]:
        result = await handle.control("control_activate", {"mode": mode}, timeout_s)
        if not result.get("ok"):
            raise RestartFailure(RestartError.by_code(result["error_code"]), result["error"])
        return result

    def install(self, handle: WorkerHandle) -> None:
        """Make `handle` the worker that serves requests, and watch it for a crash."""
        self.worker = handle
        self.degraded = None
        self.task_group.start_soon(self._watch, handle)

    async def start_first_worker(self) -> None:
        handle = await self.spawn_worker()
        self.worker_tools = [t for t in await handle.list_tools() if not t.name.startswith(CONTROL_PREFIX)]
        await self.activate(handle, "snapshot", self.settings.worker_start_timeout_s)
        self.install(handle)

    async def _watch(self, handle: WorkerHandle) -> None:
        await handle.exited.wait()
        if self.worker is handle and not self.restarting and not self.shutting_down:
            await self.recover(handle, f"worker pid {handle.pid} exited unexpectedly ({handle.exit_reason})")

    async def recover(self, failed: WorkerHandle, why: str) -> None:
        """Replace a worker that died outside a restart; requests wait in the buffer meanwhile. An
        emergency restart may pre-empt it (`preempt_recovery`), and then replaces the worker itself."""
        async with self._recovering:
            if self.worker is not failed or self.restarting or self._recovery_tried_for is failed:
                return  # replaced meanwhile, a restart will replace it, or a recovery already failed
            self._recovery_tried_for = failed
            log.error("%s; starting a replacement", why)
            started = clock.monotonic()
            self.buffer.close()
            replacement: WorkerHandle | None = None
            error: RestartFailure | None = None
            try:
                with anyio.CancelScope() as self._recovery:
                    replacement, error = await self._start_recovered_worker()
                if self._recovery.cancelled_caught:
                    error = RestartFailure(
                        RestartError.ALREADY_IN_PROGRESS, "crash recovery pre-empted by an emergency restart"
                    )
                elif replacement is not None:
                    self.install(replacement)
                else:
                    self.degraded = error
            finally:
                self._recovery = None
                self.buffer.open()
            self.history.append(
                HistoryEntry(
                    timestamp=clock.utc_now().isoformat(),
                    reason="error_recovery",
                    success=error is None,
                    duration=round(clock.monotonic() - started, 4),
                    error_code=error.error.code if error else None,
                    graceful=False,
                    preserve_state=True,
                    old_worker_pid=failed.pid,
                    new_worker_pid=replacement.pid if replacement else None,
                )
            )

    async def _start_recovered_worker(self) -> tuple[WorkerHandle | None, RestartFailure | None]:
        """Two attempts at a worker restored from the last snapshot and the database."""
        error: RestartFailure | None = None
        for _attempt in range(2):
            replacement = None
            try:
                replacement = await self.spawn_worker()
                await self.activate(replacement, "snapshot", self.settings.worker_start_timeout_s)
            except BaseException as exc:
                if replacement is not None:
                    replacement.kill()  # started, but not restored (or the recovery was pre-empted)
                if not isinstance(exc, WorkerGone | WorkerCallFailed | TimeoutError | RestartFailure):
                    raise
                why = str(exc) or f"no answer within the worker start timeout ({self.settings.worker_start_timeout_s:g}s)"
                error = RestartFailure(
                    RestartError.PROCESS_MANAGEMENT_FAILED, f"replacement worker failed after a crash: {why}"
                )
            else:
                return replacement, None
        return None, error

    def preempt_recovery(self) -> None:
        """An emergency restart takes the place of a crash recovery under way."""
        if self._recovery is not None:
            self._recovery.cancel()

    async def recovery_finished(self, timeout_s: float) -> None:
        """Wait until no crash recovery is under way."""
        with anyio.fail_after(timeout_s):
            async with self._recovering:
                pass

    # -- in-flight tracking ---------------------------------------------------------------
    def in_flight(self, handle: WorkerHandle) -> int:
        return self._in_flight.get(handle.generation, 0)

    async def wait_drained(self, handle: WorkerHandle) -> None:
        while self.in_flight(handle):
            event = self._drained.setdefault(handle.generation, anyio.Event())
            await event.wait()

    def _enter(self, handle: WorkerHandle) -> None:
        self._in_flight[handle.generation] = self.in_flight(handle) + 1

    def _leave(self, handle: WorkerHandle) -> None:
        count = self.in_flight(handle) - 1
        self._in_flight[handle.generation] = count
        if count <= 0:
            self._drained.pop(handle.generation, anyio.Event()).set()

    # -- forwarding -----------------------------------------------------------------------
    def is_mutating(self, tool_name: str) -> bool:
        for tool in self.worker_tools:
            if tool.name == tool_name:
                return IDEMPOTENCY_ARGUMENT in (tool.input_schema or {}).get("properties", {})
        return False

    async def forward(self, session_id: str, name: str, arguments: dict[str, Any]) -> CallToolResult:
        """Send a task tool call to the current worker, buffering during a restart, replaying on a crash."""
        arguments = dict(arguments)
        if self.is_mutating(name) and not arguments.get(IDEMPOTENCY_ARGUMENT):
            arguments[IDEMPOTENCY_ARGUMENT] = entropy.new_id()
        record = self.sessions.get(session_id)
        for _attempt in range(MAX_REPLAYS):
            try:
                waiter = await self.buffer.wait_turn(session_id)
            except RestartFailure as failure:
                if record:
                    record.errors += 1
                return error_result(failure)
            try:
                if self.degraded is not None:
                    return error_result(self.degraded)
                handle = self.worker
                if handle is None:
                    return error_result(
                        RestartFailure(RestartError.INITIALIZATION_FAILED, "no worker is running yet")
                    )
                self._enter(handle)
                if record:
                    record.in_flight += 1
                try:
                    return await handle.call_tool(name, arguments, self.settings.call_timeout_s)
                except WorkerGone:
                    log.warning(
                        "worker pid %s went away during %s; the call will be replayed", handle.pid, name
                    )
                finally:
                    # no longer in flight on the dead worker, so a restart draining it need not wait
                    self._leave(handle)
                    if record:
                        record.in_flight -= 1
                await self._await_replacement(handle)
            finally:
                self.buffer.release(waiter)
        return error_result(
            RestartFailure(
                RestartError.PROCESS_MANAGEMENT_FAILED, f"{name}: no worker stayed up long enough to answer"
            )
        )

    async def _await_replacement(self, gone: WorkerHandle) -> None:
        """Wait until the dead worker has been replaced (by a restart or crash recovery)."""
        deadline = clock.monotonic() + self.settings.worker_start_timeout_s * 2
        while self.worker is gone and self.degraded is None and clock.monotonic() < deadline:
            if not self.restarting:
                await self.recover(gone, f"worker pid {gone.pid} closed its pipe during a call")
            await anyio.sleep(0.01)

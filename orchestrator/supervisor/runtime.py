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
from dataclasses import dataclass, field
from typing import Any

import anyio
from anyio.abc import TaskGroup
from mcp_types import CallToolResult, TextContent, Tool

from orchestrator import clock, entropy
from orchestrator.config import Paths
from orchestrator.control import ControlTool
from orchestrator.errors import ErrorCode, RestartFailure
from orchestrator.history import HistoryEntry, RestartHistory
from orchestrator.supervisor.buffer import RequestBuffer
from orchestrator.supervisor.phases import PhaseTracker
from orchestrator.supervisor.resources import resource_usage
from orchestrator.supervisor.sessions import SessionRegistry
from orchestrator.supervisor.supervision import LossHistory, SupervisionPolicy
from orchestrator.supervisor.worker_process import WorkerCallFailed, WorkerGone, WorkerHandle

log = logging.getLogger(__name__)

IDEMPOTENCY_ARGUMENT = "idempotency_key"
MAX_REPLAYS = 3
START_FAILURES = (WorkerGone, WorkerCallFailed, TimeoutError, RestartFailure, OSError)


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
    supervision: SupervisionPolicy = field(default_factory=SupervisionPolicy)
    recovery_hold_s: float = 30.0  # how long a call waits for a replacement worker before RESTART_006


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
        self.task_tools: list[Tool] = []  # the orchestrator's, from their registration: no worker needed
        self.losses = LossHistory(settings.supervision)
        self.last_loss: str | None = None
        self._in_flight: dict[int, int] = {}
        self._drained: dict[int, anyio.Event] = {}
        self._recovering = anyio.Lock()
        self._recovery: anyio.CancelScope | None = None  # of the crash recovery under way
        self._starting: WorkerHandle | None = None  # the worker a recovery is starting now
        self._recovery_started = clock.monotonic()
        self._changed = anyio.Event()  # set (and renewed) when a worker is installed or degraded is set

    # -- workers ---------------------------------------------------------------------------
    def new_worker(self) -> WorkerHandle:
        self.generation += 1
        return self.worker_factory(self.paths, self.generation)

    async def spawn_worker(self, handle: WorkerHandle | None = None) -> WorkerHandle:
        """Start a worker (`handle`, or a new one) and wait until it answers."""
        handle = handle or self.new_worker()
        try:
            await handle.start(self.task_group, self.settings.worker_start_timeout_s)
        except BaseException:
            handle.kill()  # a worker that failed (or was abandoned) while starting is not left behind
            raise
        return handle

    async def activate(self, handle: WorkerHandle, mode: str, timeout_s: float) -> dict[str, Any]:
        result = await handle.control(ControlTool.ACTIVATE, {"mode": mode}, timeout_s)
        if not result.get("ok"):
            raise RestartFailure(ErrorCode.by_code(result["error_code"]), result["error"])
        return result

    def install(self, handle: WorkerHandle) -> None:
        """Make `handle` the worker that serves requests, and watch it for a crash."""
        self.worker = handle
        self.degraded = None
        self._announce_change()
        self.task_group.start_soon(self._watch, handle)

    def _announce_change(self) -> None:
        self._changed.set()
        self._changed = anyio.Event()

    async def wait_for_replacement(self, gone: WorkerHandle | None, timeout_s: float) -> None:
        """Until a worker other than `gone` serves, the orchestrator is degraded, or `timeout_s` passes."""
        with anyio.move_on_after(timeout_s):
            while self.worker is gone and self.degraded is None:
                await self._changed.wait()

    async def _watch(self, handle: WorkerHandle) -> None:
        await handle.exited.wait()
        if self.worker is handle and not self.restarting and not self.shutting_down:
            await self.recover(handle, f"worker pid {handle.pid} exited unexpectedly ({handle.exit_reason})")

    def replace_in_background(self, lost: WorkerHandle | None, why: str) -> None:
        """Start replacing a lost worker without waiting for it (the caller has an answer to give)."""
        self.task_group.start_soon(self.recover, lost, why)

    async def recover(self, lost: WorkerHandle | None, why: str) -> None:
        """Replace a lost worker (`None`: start the first one), trying until one serves.

        Requests wait in the buffer meanwhile, at most `recovery_hold_s`; past that, or past the
        supervision policy's intensity limit, the orchestrator is degraded (RESTART_006 to every
        call, the reason in the health check) while attempts go on at the policy's slow pace. A
        restart may pre-empt the recovery (`preempt_recovery`) and then replaces the worker itself.
        """
        async with self._recovering:
            if self.worker is not lost or self.restarting or self.shutting_down:
                return  # replaced meanwhile, or a restart will replace it
            if lost is not None:
                lost.kill()  # gone from our point of view: never two workers on one database
                self.losses.lost(clock.monotonic())
                self.last_loss = why
                log.error("%s; starting a replacement", why)
            started = self._recovery_started = clock.monotonic()
            self.buffer.close()
            replacement: WorkerHandle | None = None
            try:
                async with anyio.create_task_group() as hold:
                    hold.start_soon(self._degrade_after_hold)
                    with anyio.CancelScope() as self._recovery:
                        replacement = await self._start_until_one_serves()
                    hold.cancel_scope.cancel()
                if replacement is not None:
                    self.install(replacement)
            finally:
                self._recovery = None
                self.buffer.open()
            if lost is not None:
                preempted = RestartFailure(ErrorCode.ALREADY_IN_PROGRESS, "crash recovery pre-empted by a restart")
                self._record_recovery(lost, replacement, started, None if replacement else preempted)

    async def _start_until_one_serves(self) -> WorkerHandle:
        """Start workers, with the policy's pauses between attempts, until one is restored and serving."""
        policy = self.settings.supervision
        while True:
            delay = self.losses.delay_before_next_start(clock.monotonic())
            if delay:
                log.info(
                    "next worker start in %.2fs (%d worker losses in the last %gs)",
                    delay,
                    self.losses.recent(clock.monotonic()),
                    policy.period_s,
                )
                await anyio.sleep(delay)
            handle: WorkerHandle | None = None
            try:
                handle = self._starting = self.new_worker()
                await self.spawn_worker(handle)
                await self.activate(handle, "snapshot", self.settings.worker_start_timeout_s)
                return handle
            except START_FAILURES as exc:
                if handle is not None:
                    handle.kill()  # started, but not restored
                why = str(exc) or f"no answer within the worker start timeout ({self.settings.worker_start_timeout_s:g}s)"
                self.losses.lost(clock.monotonic())
                self.last_loss = why
                log.error("worker start failed: %s", why)
                if self.losses.over_limit(clock.monotonic()) and self.degraded is None:
                    self._degrade(
                        f"no worker is serving: more than {policy.describe()} (last: {why}); the "
                        f"orchestrator keeps trying every {policy.slow_retry_s:g}s. Fix the cause "
                        "(see server.log) or call orchestrator_restart_server"
                    )
            finally:
                self._starting = None

    async def _degrade_after_hold(self) -> None:
        """Held calls wait for a replacement at most `recovery_hold_s`, then are answered RESTART_006."""
        await anyio.sleep(self.settings.recovery_hold_s)
        if self.degraded is None:
            self._degrade(
                f"no worker has been serving for {self.settings.recovery_hold_s:g}s (last failure: "
                f"{self.last_loss}); the orchestrator keeps trying. Retry the call later, see "
                "orchestrator_health_check for progress"
            )

    def _degrade(self, message: str) -> None:
        """No worker serves: calls are answered RESTART_006 at once instead of waiting, and the
        recovery that has not succeeded yet is a failed restart attempt, in the history too."""
        log.error("degraded: %s", message)
        self.degraded = RestartFailure(ErrorCode.PROCESS_MANAGEMENT_FAILED, message)
        self.buffer.open()
        self._announce_change()
        self._record_recovery(self.worker, None, self._recovery_started, self.degraded)

    def _record_recovery(
        self,
        lost: WorkerHandle | None,
        replacement: WorkerHandle | None,
        started: float,
        error: RestartFailure | None,
    ) -> None:
        self.history.append(
            HistoryEntry(
                timestamp=clock.utc_now().isoformat(),
                reason="error_recovery",
                success=error is None,
                duration=round(clock.monotonic() - started, 4),
                error_code=error.error.code if error else None,
                graceful=False,
                preserve_state=True,
                old_worker_pid=lost.pid if lost else None,
                new_worker_pid=replacement.pid if replacement else None,
            )
        )

    def supervision_status(self) -> dict[str, Any]:
        """What the supervisor is doing about workers, for the health check."""
        now = clock.monotonic()
        if self.degraded is not None:
            state = "degraded"
        elif self._recovery is not None:
            state = "recovering"
        else:
            state = "serving" if self.worker is not None else "starting"
        policy = self.settings.supervision
        return {
            "state": state,
            "error_code": self.degraded.error.code if self.degraded else None,
            "reason": self.degraded.message if self.degraded else None,
            "worker_losses_recent": self.losses.recent(now),
            "worker_losses_total": self.losses.total,
            "intensity_limit": policy.describe(),
            "last_loss": self.last_loss,
            "starting_worker_pid": self._starting.pid if self._starting else None,
        }

    def preempt_recovery(self) -> None:
        """An emergency restart takes the place of a crash recovery under way."""
        if self._recovery is not None:
            self._recovery.cancel()

    async def recovery_finished(self, timeout_s: float) -> None:
        """Wait until no crash recovery is under way."""
        with anyio.fail_after(timeout_s):
            async with self._recovering:
                pass

    def connection_state(self) -> str:
        """How the clients stand, from the buffer and the sessions: `degraded` once a request was
        refused for a full buffer (until an error_recovery restart clears it), `reconnecting` while
        a session is away within its grace period, else `ready`."""
        if self.buffer.overflows:
            return "degraded"
        if any(s.disconnected_since is not None for s in self.sessions.all()):
            return "reconnecting"
        return "ready"

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
        for tool in self.task_tools:
            if tool.name == tool_name:
                return IDEMPOTENCY_ARGUMENT in (tool.input_schema or {}).get("properties", {})
        return False

    async def forward(self, session_id: str, name: str, arguments: dict[str, Any]) -> CallToolResult:
        """Send a task tool call to the current worker, buffering during a restart, replaying on a crash."""
        arguments = dict(arguments)
        if self.is_mutating(name) and arguments.get(IDEMPOTENCY_ARGUMENT) is None:  # "" is refused, not replaced
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
                if handle is None:  # the first worker is not serving yet: wait for it like a replacement
                    await self.wait_for_replacement(None, self._replacement_wait_s())
                    continue
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
                ErrorCode.PROCESS_MANAGEMENT_FAILED, f"{name}: no worker stayed up long enough to answer"
            )
        )

    async def _await_replacement(self, gone: WorkerHandle) -> None:
        """Wait until the dead worker has been replaced (by a restart or crash recovery)."""
        if not self.restarting:
            self.replace_in_background(gone, f"worker pid {gone.pid} closed its pipe during a call")
        await self.wait_for_replacement(gone, self._replacement_wait_s())

    def _replacement_wait_s(self) -> float:
        """A held call's longest wait for a worker: the hold, and the start attempt under way then."""
        return self.settings.recovery_hold_s + self.settings.worker_start_timeout_s

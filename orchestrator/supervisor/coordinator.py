"""The restart coordinator: replaces the worker process phase by phase, or rolls back.

Graceful restart with state: maintenance on and requests held; the replacement process is
spawned at once, in parallel with the hand-over; jobs are suspended to a checkpoint and the
snapshot is written by the old worker; the replacement (by then usually ready) restores from the
snapshot and takes over; the held requests go to it in order; the old process is stopped.
Until the replacement is serving, every failure rolls back to the old worker, which never
stopped. An emergency restart (graceful=false) kills the old worker instead and brings jobs back
as interrupted; nothing in the database is lost either way.
"""

from __future__ import annotations

import logging
import os
from datetime import datetime
from statistics import median
from typing import Any

import anyio

from orchestrator import clock
from orchestrator.control import ControlTool
from orchestrator.errors import ErrorCode, RestartFailure
from orchestrator.history import HistoryEntry
from orchestrator.supervisor.request import RestartRequest
from orchestrator.supervisor.runtime import Runtime
from orchestrator.supervisor.worker_process import WorkerCallFailed, WorkerGone, WorkerHandle

log = logging.getLogger(__name__)
# The server log's line for a failed restart: operators grep it, and `chaos incident import` reads the
# cause from it (a hung task, a full disk) instead of guessing from the code alone.
RESTART_FAILED_LOG = "restart (%s) failed with %s: %s"

START_ATTEMPTS = 2
FOLD_WAL_TIMEOUT_S = 1.0
TRANSACTIONS_SETTLE_S = 2.0
OWN_TRANSACTIONS_PENDING = "database transaction(s) pending"  # the readiness issue waited for
TRANSACTIONS_POLL_S = 0.02
ROLLBACK_TIMEOUT_S = 5.0
ABANDONED = "restart abandoned: the supervisor is shutting down"
WORKER_REPORT_MARGIN_S = 0.5  # the worker reports what it could not do before the supervisor's deadline


class _Replacement:
    """The replacement worker process, spawned in the background so a deadline can bound the wait."""

    def __init__(self, runtime: Runtime):
        self.runtime = runtime
        self.handle: WorkerHandle | None = None
        self.error: BaseException | None = None
        self.done = anyio.Event()
        self.running = False
        self.discarded = False
        self._scope: anyio.CancelScope | None = None

    def launch(self) -> None:
        """Start a spawn attempt unless one is under way or has already succeeded."""
        if not self.running and self.handle is None:
            self.running = True
            self.done = anyio.Event()
            self.runtime.task_group.start_soon(self._spawn)

    async def _spawn(self) -> None:
        try:
            with anyio.CancelScope() as self._scope:
                if self.discarded:  # discarded before this task began: it must start nothing
                    return
                self.handle = await self.runtime.spawn_worker()
        except (WorkerGone, WorkerCallFailed, TimeoutError, OSError) as exc:
            self.error = exc
        finally:
            self.running = False
            self.done.set()

    def discard(self) -> None:
        """The restart failed: stop the replacement, whether it is up, still starting, or not begun."""
        self.discarded = True
        if self._scope is not None:
            self._scope.cancel()
        if self.handle is not None:
            self.handle.kill()


class RestartCoordinator:
    def __init__(self, runtime: Runtime):
        self.runtime = runtime
        self.restart_count = 0
        self._scope: anyio.CancelScope | None = None
        self._last_restore: dict[str, Any] | None = None

    # -- readiness -------------------------------------------------------------------------
    async def worker_facts(self) -> tuple[dict[str, Any] | None, str | None]:
        """The current worker's own measured facts, or why they could not be had."""
        handle = self.runtime.worker
        if handle is None or not handle.alive:
            return None, "no worker process is running"
        try:
            return await handle.control(ControlTool.FACTS, {}, self.runtime.settings.control_timeout_s), None
        except TimeoutError:
            state = "stopped (SIGSTOP)" if handle.is_stopped_by_signal() else "not answering"
            return (
                None,
                f"worker pid {handle.pid} is {state} after {self.runtime.settings.control_timeout_s}s",
            )
        except (WorkerGone, WorkerCallFailed) as exc:
            return None, f"worker pid {handle.pid} failed to report: {exc}"

    async def readiness(self) -> dict[str, Any]:
        facts, problem = await self.worker_facts()
        sessions = self.runtime.sessions.all()
        connected = [s for s in sessions if s.disconnected_since is None]
        notifiable = [s for s in connected if s.server_session is not None]
        issues: list[str] = []
        if problem:
            issues.append(problem)
        if self.runtime.tracker.running:
            issues.append(f"a restart is already in progress (phase {self.runtime.tracker.phase})")
        if self.runtime.degraded is not None:
            issues.append(f"no healthy worker: {self.runtime.degraded.message}")
        jobs = (facts or {}).get("jobs", {})
        database = (facts or {}).get("database", {})
        unsuspendable = int(jobs.get("unsuspendable", 0))
        if unsuspendable:
            issues.append(f"{unsuspendable} active task(s) cannot be suspended")
        pending = int(database.get("transactions_in_progress", 0)) + (
            1 if database.get("write_lock_held_elsewhere") else 0
        )
        if database.get("write_lock_held_elsewhere"):
            issues.append("database has a pending transaction: another connection holds a write lock")
        elif pending:
            issues.append(f"{pending} {OWN_TRANSACTIONS_PENDING}")
        active_count = int(jobs.get("running", 0)) + int(jobs.get("suspended", 0))
        return {
            "ready": not issues,
            "issues": issues,
            "checks": {
                "active_tasks": {
                    "count": active_count,
                    "suspendable": int(jobs.get("suspendable", 0)),
                    "status": "unknown" if facts is None else ("blocked" if unsuspendable else "ready"),
                },
                "database": {
                    "transactions_pending": pending,
                    "connections_open": count_open_connections(self.runtime),
                    "status": "unknown" if facts is None else ("busy" if pending else "ready"),
                },
                "client_connections": {
                    "active_connections": len(connected),
                    "notifiable": len(notifiable),
                    "status": self.runtime.connection_state(),
                },
            },
            "facts": facts,
        }

    # -- restart ---------------------------------------------------------------------------
    async def restart(self, request: RestartRequest) -> dict[str, Any]:
        """Admit a restart, then carry it out in the supervisor's own task group: once begun, a
        restart runs to its end (complete, or rolled back) even if its caller stops waiting."""
        started = clock.utc_now()
        try:
            await self._admit(request)
        except RestartFailure as refusal:
            # The guide's symptom for every restart that does not start: "Failed to initiate shutdown".
            refusal = RestartFailure(refusal.error, f"Failed to initiate shutdown: {refusal.message}")
            return self._respond(request, started, refusal, refused=True, old=self.runtime.worker)
        done = anyio.Event()
        outcome: dict[str, Any] = {}

        async def carry_out() -> None:
            try:
                outcome["response"] = await self._carry_out(request, started)
            except Exception as exc:  # handed to the caller, as if the restart ran in its task
                outcome["error"] = exc
            except anyio.get_cancelled_exc_class():
                outcome["error"] = RuntimeError(ABANDONED)
                raise
            except BaseException as exc:  # the supervisor itself ends (a simulated process exit)
                outcome["error"] = exc
                raise
            finally:
                done.set()

        self.runtime.task_group.start_soon(carry_out)
        await done.wait()
        if "error" in outcome:
            raise outcome["error"]
        return outcome["response"]

    async def _carry_out(self, request: RestartRequest, started: datetime) -> dict[str, Any]:
        self._last_restore = None
        tracker = self.runtime.tracker
        tracker.begin(self.expected_duration_s(request))
        if request.reason == "error_recovery":
            dropped = self.runtime.buffer.clear(
                "request buffer cleared by an error_recovery restart; send it again"
            )
            if dropped:
                tracker.note_error(f"cleared {dropped} buffered request(s) (error_recovery)")
            self.runtime.buffer.overflows = 0  # the guide's "clear buffers" also clears the degraded state
        old = self.runtime.worker
        failure: RestartFailure | None = None
        succeeded, outcome = False, ABANDONED
        try:
            with anyio.CancelScope() as scope:
                self._scope = scope
                try:
                    await self._replace(request, old)
                except RestartFailure as exc:
                    failure = exc
            if scope.cancelled_caught:
                failure = RestartFailure(
                    ErrorCode.ALREADY_IN_PROGRESS, "pre-empted by an emergency restart while stuck"
                )
            if failure is not None:
                tracker.note_error(failure.message)
                log.warning(RESTART_FAILED_LOG, request.reason, failure.error.code, failure.message)
            succeeded = failure is None
            outcome = "restart complete" if failure is None else f"restart failed: {failure.message}"
        finally:
            # Maintenance mode ends and held requests go on however the restart ended.
            self._scope = None
            tracker.finish(succeeded, outcome)
            self.runtime.restarting = False
            self.runtime.buffer.open()
        current = self.runtime.worker
        if current is None or not current.alive or not current.process_running():
            # No worker serves after the restart (it died, so rollback had nobody to return to, or
            # none ever started): replace it from the last snapshot and the database, as after any
            # crash, and answer once it serves or the orchestrator is degraded.
            why = f"worker pid {current.pid} died during a restart" if current else "no worker after a restart"
            tracker.note_error(f"{why}; recovering")
            self.runtime.replace_in_background(current, why)
            await self.runtime.wait_for_replacement(current, request.timeout)
        return self._respond(request, started, failure, refused=False, old=old)

    async def _admit(self, request: RestartRequest) -> None:
        runtime = self.runtime
        if runtime.reboot_init_error:
            raise RestartFailure(ErrorCode.INITIALIZATION_FAILED, runtime.reboot_init_error)
        if runtime.worker is None and runtime.degraded is None:
            raise RestartFailure(
                ErrorCode.INITIALIZATION_FAILED,
                "the reboot system is not initialized yet: the first worker is still starting; retry "
                "once orchestrator_health_check shows reboot_system_initialized true (task calls "
                f"meanwhile wait for it, at most {runtime.settings.recovery_hold_s:g}s)",
            )
        if runtime.restarting:
            stuck_for = runtime.tracker.seconds_in_phase()
            if (
                not request.graceful
                and stuck_for >= runtime.settings.stuck_after_s
                and self._scope is not None
            ):
                log.warning(
                    "emergency restart pre-empts a restart stuck in %s for %.1fs",
                    runtime.tracker.phase,
                    stuck_for,
                )
                self._scope.cancel()
                with anyio.fail_after(ROLLBACK_TIMEOUT_S * 2):
                    while runtime.restarting:
                        await anyio.sleep(0.01)
            else:
                raise RestartFailure(
                    ErrorCode.ALREADY_IN_PROGRESS,
                    f"another restart is in progress (phase {runtime.tracker.phase}, "
                    f"{runtime.tracker.progress}%); wait for it or, if it is stuck for more than "
                    f"{runtime.settings.stuck_after_s:.0f}s, force an emergency restart (graceful=false)",
                )
        runtime.restarting = True  # claimed with no await since the check: two calls cannot both pass
        try:
            await self._wait_for_crash_recovery(request)
            if request.graceful and runtime.degraded is None:
                readiness = await self._settled_readiness()
                if not readiness["ready"] and self._worker_running():
                    raise RestartFailure(
                        ErrorCode.SYSTEM_NOT_READY,
                        "system not ready for a graceful restart: " + "; ".join(readiness["issues"]),
                    )
        except BaseException:
            runtime.restarting = False
            raise

    def _worker_running(self) -> bool:
        """Whether there is a worker to hand over from: a graceful restart of one that has just died
        is not refused as not ready (its readiness cannot be had), it replaces it."""
        handle = self.runtime.worker
        return handle is not None and handle.alive and handle.process_running()

    async def _wait_for_crash_recovery(self, request: RestartRequest) -> None:
        """A crash recovery under way finishes first (no new one starts while a restart is claimed),
        so exactly one of them installs a worker; an emergency restart pre-empts it instead, as the
        guide's answer to RESTART_002. So does any restart once the orchestrator is degraded: no
        worker serves, and the restart's own start attempt is what the operator asked for."""
        if not request.graceful or self.runtime.degraded is not None:
            self.runtime.preempt_recovery()
        try:
            await self.runtime.recovery_finished(request.timeout)
        except TimeoutError:
            raise RestartFailure(
                ErrorCode.ALREADY_IN_PROGRESS,
                f"a crash recovery is still replacing the worker after {request.timeout}s; wait for it, "
                "or force an emergency restart (graceful=false), which takes its place",
            ) from None

    async def _settled_readiness(self) -> dict[str, Any]:
        """Readiness, letting this worker's own transactions finish first, as the guide's runbook
        waits for pending transactions: under write load one is nearly always open for a moment.
        A lock held by another connection, or anything else, is not waited for."""
        deadline = clock.monotonic() + TRANSACTIONS_SETTLE_S
        while True:
            readiness = await self.readiness()
            own_transactions_only = readiness["issues"] and all(
                issue.endswith(OWN_TRANSACTIONS_PENDING) for issue in readiness["issues"]
            )
            if not own_transactions_only or clock.monotonic() >= deadline:
                return readiness
            await anyio.sleep(TRANSACTIONS_POLL_S)

    async def _replace(self, request: RestartRequest, old: WorkerHandle | None) -> None:
        runtime, tracker = self.runtime, self.runtime.tracker
        deadline = clock.monotonic() + request.timeout
        replacement = _Replacement(runtime)
        keep_old = old is not None and old.alive and request.graceful
        new: WorkerHandle | None = None
        try:
            if runtime.settings.early_start:
                replacement.launch()
            if keep_old and request.preserve_state:
                await self._check_database(old, deadline)
            if runtime.settings.early_start:
                new = await self._ready_replacement(replacement, deadline)
            if keep_old and request.preserve_state:
                await self._fold_wal(old)
            runtime.buffer.close()
            if keep_old:
                await self._hand_over(request, old, deadline)
            else:
                self._skip_hand_over(old)
            tracker.enter("finalizing", "old worker has handed over; finalizing")
            tracker.enter("starting_process", "waiting for the replacement worker process")
            if new is None:
                new = await self._ready_replacement(replacement, deadline)
            tracker.enter("loading_state", f"worker pid {new.pid} is restoring state")
            mode = "snapshot" if keep_old and request.preserve_state else "interrupted"
            self._last_restore = await self._activate(new, mode, deadline)
            tracker.enter("resuming_tasks", f"worker pid {new.pid} resumed tasks; releasing held requests")
        except BaseException:
            replacement.discard()
            if keep_old:
                await self._roll_back(old)
            raise
        runtime.install(new)
        self.restart_count += 1
        if old is not None and old.alive:
            runtime.task_group.start_soon(self._stop_old, old)

    async def _hand_over(self, request: RestartRequest, old: WorkerHandle, deadline: float) -> None:
        runtime, tracker = self.runtime, self.runtime.tracker
        tracker.enter(
            "suspending_tasks", "waiting for in-flight requests, then suspending tasks to a checkpoint"
        )
        await self._until(deadline, runtime.wait_drained(old), "in-flight requests did not finish")
        suspended: list[dict[str, Any]] = []
        if request.preserve_state:
            report = await self._control(
                old, ControlTool.SUSPEND, {"deadline_s": self._worker_deadline(deadline)}, deadline
            )
            suspended = report.get("suspended", [])
            tracker.enter(
                "serializing_state", f"writing the state snapshot ({len(suspended)} suspended task(s))"
            )
            written = await self._control(
                old,
                ControlTool.WRITE_SNAPSHOT,
                {
                    "restart_reason": request.reason,
                    "client_sessions": runtime.sessions.snapshot_records(),
                    "suspended_tasks": suspended,
                    "deadline_s": self._worker_deadline(deadline),
                },
                deadline,
            )
            tracker.enter(
                "closing_connections",
                f"snapshot written ({written.get('size_bytes')} bytes); closing the old worker's connections",
            )
        else:
            tracker.enter(
                "serializing_state", "state preservation off: no snapshot, jobs come back interrupted"
            )
            tracker.enter("closing_connections", "stopping the old worker's jobs")
            await self._control(old, ControlTool.PREPARE_STOP, {}, deadline)

    def _skip_hand_over(self, old: WorkerHandle | None) -> None:
        tracker = self.runtime.tracker
        tracker.enter("suspending_tasks", "emergency restart: not waiting for tasks")
        tracker.enter("serializing_state", "emergency restart: no snapshot, the database is the state")
        tracker.enter("closing_connections", "stopping the old worker by force")
        if old is not None:
            old.kill()

    async def _ready_replacement(self, replacement: _Replacement, deadline: float) -> WorkerHandle:
        replacement.launch()
        for attempt in range(1, START_ATTEMPTS + 1):
            await self._until(deadline, replacement.done.wait(), "the replacement worker did not start")
            if replacement.handle is not None:
                return replacement.handle
            self.runtime.tracker.note_error(
                f"replacement worker attempt {attempt} failed: {replacement.error}"
            )
            if attempt < START_ATTEMPTS:
                replacement.launch()
        raise RestartFailure(
            ErrorCode.PROCESS_MANAGEMENT_FAILED,
            f"the replacement worker failed to start {START_ATTEMPTS} times: {replacement.error}",
        )

    async def _fold_wal(self, old: WorkerHandle) -> None:
        """Best effort, briefly: the hand-over's own checkpoint does the work if this cannot, and
        reports what stops it (a worker that does not answer is found stuck in the hand-over)."""
        with anyio.move_on_after(FOLD_WAL_TIMEOUT_S):
            try:
                await old.control(ControlTool.FOLD_WAL, {}, FOLD_WAL_TIMEOUT_S)
            except (WorkerGone, WorkerCallFailed, TimeoutError) as exc:
                log.info("WAL not folded before the hand-over: %s", exc)

    async def _check_database(self, old: WorkerHandle, deadline: float) -> None:
        """`PRAGMA integrity_check` before anything is disturbed: a damaged database is RESTART_008 up front."""
        integrity = await self._control(old, ControlTool.INTEGRITY_CHECK, {}, deadline, check_ok=False)
        if not integrity.get("ok"):
            raise RestartFailure(
                ErrorCode.DATABASE_ERROR,
                "database integrity check failed: " + "; ".join(integrity.get("messages", [])[:3]),
            )

    async def _activate(self, new: WorkerHandle, mode: str, deadline: float) -> dict[str, Any]:
        try:
            return await self._until(
                deadline, self.runtime.activate(new, mode, self._left(deadline)), "state restore"
            )
        except (WorkerGone, WorkerCallFailed) as exc:
            raise RestartFailure(
                ErrorCode.PROCESS_MANAGEMENT_FAILED,
                f"replacement worker pid {new.pid} failed while restoring: {exc}",
            ) from exc

    async def _control(
        self,
        handle: WorkerHandle,
        name: str,
        arguments: dict[str, Any],
        deadline: float,
        check_ok: bool = True,
    ) -> dict[str, Any]:
        try:
            result = await self._until(
                deadline, handle.control(name, arguments, self._left(deadline) + 1), name
            )
        except (WorkerGone, WorkerCallFailed) as exc:
            raise RestartFailure(ErrorCode.PROCESS_MANAGEMENT_FAILED, f"{name} failed: {exc}") from exc
        if check_ok and not result.get("ok"):
            raise RestartFailure(ErrorCode.by_code(result["error_code"]), result["error"])
        return result

    async def _until(self, deadline: float, awaitable: Any, what: str) -> Any:
        try:
            with anyio.fail_after(max(0.0, deadline - clock.monotonic())):
                return await awaitable
        except TimeoutError:
            raise RestartFailure(
                ErrorCode.TIMEOUT_EXCEEDED,
                f"{what}: timeout exceeded in phase {self.runtime.tracker.phase}",
            ) from None

    @staticmethod
    def _left(deadline: float) -> float:
        return max(0.1, deadline - clock.monotonic())

    @staticmethod
    def _worker_deadline(deadline: float) -> float:
        return max(0.1, deadline - clock.monotonic() - WORKER_REPORT_MARGIN_S)

    async def _roll_back(self, old: WorkerHandle) -> None:
        """The old worker serves again: jobs resume and its maintenance mode ends."""
        with anyio.CancelScope(shield=True):
            try:
                await old.control(ControlTool.RESUME, {}, ROLLBACK_TIMEOUT_S)
            except (TimeoutError, WorkerGone, WorkerCallFailed) as exc:
                log.error("rollback: worker pid %s did not resume (%s); it stays in place", old.pid, exc)
                self.runtime.tracker.note_error(
                    f"rollback: worker pid {old.pid} did not confirm resume: {exc}"
                )

    async def _stop_old(self, old: WorkerHandle) -> None:
        with anyio.move_on_after(self.runtime.settings.stop_grace_s):
            try:
                await old.control(ControlTool.PREPARE_STOP, {}, self.runtime.settings.stop_grace_s)
            except (TimeoutError, WorkerGone, WorkerCallFailed) as exc:
                log.warning("old worker pid %s did not stop cleanly: %s", old.pid, exc)
        await old.stop(self.runtime.settings.stop_grace_s)

    # -- reporting -------------------------------------------------------------------------
    def expected_duration_s(self, request: RestartRequest) -> float:
        """Median of recent successful restarts, measured; the timeout when there is no history yet."""
        durations = [
            e.duration
            for e in self.runtime.history.entries()[-20:]
            if e.success and e.graceful == request.graceful
        ]
        return median(durations) if durations else float(request.timeout)

    def _respond(
        self,
        request: RestartRequest,
        started: datetime,
        failure: RestartFailure | None,
        refused: bool,
        old: WorkerHandle | None = None,
    ) -> dict[str, Any]:
        tracker = self.runtime.tracker
        completed = clock.utc_now()
        duration = (completed - started).total_seconds()
        new = self.runtime.worker
        response: dict[str, Any] = {
            "success": failure is None,
            "graceful": request.graceful,
            "preserve_state": request.preserve_state,
            "timeout": request.timeout,
            "phase": "failed" if refused else tracker.phase,
            "progress": 0.0 if refused else tracker.progress,
            "message": failure.message if refused and failure else tracker.message,
            "restart_reason": request.reason,
            "started_at": started.isoformat(),
            "completed_at": completed.isoformat(),
            "duration": round(duration, 4),
            "errors": [failure.message] if refused else list(tracker.errors),
            "error_code": failure.error.code if failure else None,
            "old_worker_pid": old.pid if old else None,
            "new_worker_pid": new.pid if new else None,
            "supervisor_pid": self.runtime.supervisor_pid,
        }
        if failure:
            response.update(failure.fields())
        if not refused:
            response["phases"] = list(tracker.timeline)
            response["restore_report"] = (
                (self._last_restore or {}).get("restore_report") if failure is None else None
            )
        self.runtime.history.append(
            HistoryEntry(
                timestamp=started.isoformat(),
                reason=request.reason,
                success=failure is None,
                duration=round(duration, 4),
                error_code=failure.error.code if failure else None,
                graceful=request.graceful,
                preserve_state=request.preserve_state,
                old_worker_pid=old.pid if old else None,
                new_worker_pid=new.pid if new and failure is None else None,
            )
        )
        return response


def count_open_connections(runtime: Runtime) -> int:
    """SQLite connections open on the task database: file descriptors of our workers pointing at it."""
    target = str(runtime.paths.database)
    handle = runtime.worker
    pids = [handle.pid] if handle and handle.pid else []
    count = 0
    for pid in pids:
        try:
            for entry in os.scandir(f"/proc/{pid}/fd"):
                try:
                    if os.readlink(entry.path) == target:
                        count += 1
                except OSError:
                    continue
        except OSError:
            continue
    return count

"""The `control_*` tools: the worker's side of a restart, called by the supervisor only.

Readiness and health facts, suspending jobs to a checkpoint and resuming them, writing the state
snapshot, activation, and stopping jobs before the process ends. A failure is answered, not
raised, with the guide's code (`error_code`), which the supervisor's restart passes on.
"""

from __future__ import annotations

import errno
import logging
import os
import sqlite3
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any

import anyio
from mcp.server.mcpserver import MCPServer
from pydantic import Field

from orchestrator import __version__, clock, faultpoints, snapshot, table_copy
from orchestrator.activation import activate
from orchestrator.blocking import run_blocking
from orchestrator.control import ControlTool
from orchestrator.errors import ErrorCode
from orchestrator.rows import active_tasks
from orchestrator.store import StoreBusyError, StoreError, TaskStore

if TYPE_CHECKING:
    from orchestrator.worker import WorkerState

log = logging.getLogger(__name__)

DISK_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EACCES, errno.EPERM, errno.EROFS, errno.EIO, errno.EFBIG}
DB_RETRY_PAUSE_S = 0.05
DB_RETRY_WAIT_S = 0.5  # each WAL checkpoint attempt waits at most this long for a foreign lock
DISK_FULL_MARKERS = ("disk is full", "disk i/o error", "readonly database")


def failure(error: ErrorCode, message: str) -> dict[str, Any]:
    return {"ok": False, "error_code": error.code, "error": message}


def classify_write_error(exc: BaseException, doing: str = "serializing state") -> dict[str, Any]:
    """Map what went wrong while saving state to the guide's code: the disk (005) or the database (008)."""
    if isinstance(exc, OSError) and exc.errno in DISK_ERRNOS:
        message = f"state serialization failed while {doing}: {os.strerror(exc.errno)} ({exc})"
        return failure(ErrorCode.STATE_SERIALIZATION_FAILED, message)
    if any(marker in str(exc).lower() for marker in DISK_FULL_MARKERS):
        return failure(ErrorCode.STATE_SERIALIZATION_FAILED, f"state serialization failed while {doing}: {exc}")
    if isinstance(exc, StoreError | sqlite3.Error):
        return failure(ErrorCode.DATABASE_ERROR, f"database error while {doing}: {exc}")
    return failure(ErrorCode.STATE_SERIALIZATION_FAILED, f"state serialization failed while {doing}: {exc!r}")


async def checkpoint_database(store: TaskStore, deadline: float) -> dict[str, Any]:
    """Fold the WAL into the database file, retrying while another connection holds a lock."""
    attempts = 0
    while True:
        attempts += 1
        wait_s = max(0.0, min(DB_RETRY_WAIT_S, deadline - clock.monotonic()))
        busy, wal_pages, moved = await run_blocking(store.checkpoint_wal, wait_s)
        if not busy:
            return {"wal_pages": wal_pages, "checkpointed_pages": moved, "attempts": attempts}
        if clock.monotonic() >= deadline:
            raise StoreBusyError(
                f"database is locked by another connection; WAL checkpoint still busy after {attempts} attempts"
            )
        await anyio.sleep(DB_RETRY_PAUSE_S)


def database_state(state: WorkerState) -> dict[str, Any]:
    facts = state.store.database_facts()
    facts["file"] = state.paths.database.name
    facts.pop("path", None)
    return facts


def register_control_tools(app: MCPServer, serving: Callable[[], WorkerState]) -> None:
    """Register the control_* tools on `app`; each serves the worker `serving()` returns."""
    _register_health(app, serving)
    _register_suspend_and_resume(app, serving)
    _register_state_snapshot(app, serving)
    _register_activation_and_stop(app, serving)


def _register_health(app: MCPServer, serving: Callable[[], WorkerState]) -> None:
    """What the supervisor measures before and during a restart: process and database facts,
    the integrity check, and folding the WAL ahead of the hand-over."""

    @app.tool(name=ControlTool.FACTS, structured_output=True)
    async def control_facts() -> dict[str, Any]:
        """Measured readiness and health facts of this worker process."""
        state = serving()
        store = state.store
        try:
            lock_elsewhere = await run_blocking(store.write_lock_held_elsewhere)
            facts = await run_blocking(store.database_facts)
        except (StoreError, sqlite3.Error) as exc:  # a damaged database is a fact to report, not a crash
            lock_elsewhere, facts = False, {"error": str(exc)}
        connected = "error" not in facts  # the connection answered the queries that gathered the facts
        return {
            "pid": os.getpid(),
            "server_version": __version__,
            "started_at": state.started_at,
            "activated": state.activated,
            "maintenance": state.maintenance,
            "restore_report": state.restore_report,
            "jobs": state.running_jobs().stats(),
            "database": {
                **facts,
                "connected": connected,
                "write_lock_held_elsewhere": lock_elsewhere,
                "transactions_in_progress": store.transactions_in_progress,
            },
        }

    @app.tool(name=ControlTool.INTEGRITY_CHECK, structured_output=True)
    async def control_integrity_check() -> dict[str, Any]:
        """`PRAGMA integrity_check` of the task database."""
        state = serving()
        ok, messages = await run_blocking(state.store.integrity_check)
        return {"ok": ok, "messages": messages[:20]}

    @app.tool(name=ControlTool.FOLD_WAL, structured_output=True)
    async def control_fold_wal() -> dict[str, Any]:
        """Copy the WAL into the database now, without waiting for anyone (PASSIVE), so that the
        checkpoint inside the hand-over, while requests wait, has little left to do."""
        state = serving()
        try:
            busy, wal_pages, moved = await run_blocking(state.store.checkpoint_wal, 0.0, "PASSIVE")
        except (StoreError, sqlite3.Error) as exc:  # the hand-over's own checkpoint reports it properly
            return {"ok": False, "error": str(exc)}
        return {"ok": True, "busy": busy, "wal_pages": wal_pages, "checkpointed_pages": moved}


def _register_suspend_and_resume(app: MCPServer, serving: Callable[[], WorkerState]) -> None:
    """Jobs during a restart: rolled back (resumed) or stopped at a durable checkpoint."""

    @app.tool(name=ControlTool.RESUME, structured_output=True)
    async def control_resume() -> dict[str, Any]:
        """Roll back a restart on this worker: jobs run again and maintenance ends."""
        state = serving()
        await state.running_jobs().resume_all()
        try:
            await state.running_jobs().resume_from_database()  # jobs stopped by control_prepare_stop
        except (StoreError, sqlite3.Error) as exc:  # a damaged database is diagnosed by the health check
            log.error("rollback: jobs could not be resumed from the database: %s", exc)
        state.maintenance = False
        return {"ok": True, "maintenance": False, "jobs": state.running_jobs().stats()}

    @app.tool(name=ControlTool.SUSPEND, structured_output=True)
    async def control_suspend(deadline_s: Annotated[float, Field(gt=0, le=300)]) -> dict[str, Any]:
        """Stop every job at a checkpoint, durably; report jobs that did not stop, and why."""
        state = serving()
        jobs, store = state.running_jobs(), state.store
        report = await jobs.suspend_all(deadline_s)
        unsaved = [record for record in report["suspended"] if not record.get("checkpoint_saved")]
        try:
            if unsaved:
                await jobs.persist_checkpoints(unsaved)
        except (StoreError, sqlite3.Error) as exc:
            return {**classify_write_error(exc, "saving task checkpoints"), **report}
        if report["hung"]:
            hung = ", ".join(report["hung"][:5])
            if await run_blocking(store.write_lock_held_elsewhere):
                error = failure(
                    ErrorCode.DATABASE_ERROR,
                    f"database locked by another connection: checkpoints of {hung} could not be written "
                    f"within {deadline_s:.1f}s",
                )
            else:
                error = failure(
                    ErrorCode.TIMEOUT_EXCEEDED,
                    f"{len(report['hung'])} task(s) did not suspend within {deadline_s:.1f}s: {hung}",
                )
            return {**error, **report}
        return {"ok": True, **report}


def _register_state_snapshot(app: MCPServer, serving: Callable[[], WorkerState]) -> None:
    """The hand-over's state: the database checkpointed and `current_state.json` written."""

    @app.tool(name=ControlTool.WRITE_SNAPSHOT, structured_output=True)
    async def control_write_snapshot(
        restart_reason: str,
        client_sessions: list[dict[str, Any]],
        suspended_tasks: list[dict[str, Any]],
        deadline_s: Annotated[float, Field(gt=0, le=300)],
    ) -> dict[str, Any]:
        """Checkpoint the database and write `current_state.json` durably (previous one kept as a backup)."""
        state = serving()
        deadline = clock.monotonic() + deadline_s
        try:
            await faultpoints.reached("snapshot.write")
            wal = await checkpoint_database(state.store, deadline)
            since = table_copy.idempotency_since(state.idempotency_window_s)
            active, (tables, left_out) = await run_blocking(
                state.store.read, lambda conn: (active_tasks(conn), table_copy.dump_tables(conn, since))
            )
            copy = {"left_out": left_out, "idempotency_keys_since": since}
            document = snapshot.build_snapshot(
                restart_reason=restart_reason,
                active_tasks=active,
                suspended_tasks=suspended_tasks,
                client_sessions=client_sessions,
                database_state={**database_state(state), "wal_checkpoint": wal, "copy": copy},
                tables=tables,
            )
            written = await run_blocking(snapshot.write_snapshot, state.paths, document)
        except (OSError, StoreError, sqlite3.Error) as exc:
            log.error("state serialization failed: %s", exc)
            return classify_write_error(exc)
        if clock.monotonic() > deadline:
            return failure(
                ErrorCode.TIMEOUT_EXCEEDED,
                f"state serialization took longer than the {deadline_s:.1f}s left of the timeout",
            )
        return {"ok": True, **written.__dict__}


def _register_activation_and_stop(app: MCPServer, serving: Callable[[], WorkerState]) -> None:
    """The two ends of a worker's service: start serving (restore), and stop its jobs before it ends."""

    @app.tool(name=ControlTool.ACTIVATE, structured_output=True)
    async def control_activate(mode: str) -> dict[str, Any]:
        """Start serving: `snapshot` restores from the newest valid snapshot (falling back to backups,
        then the database alone); `database` skips the snapshot; `interrupted` marks jobs that were
        running as interrupted (emergency restart, or state preservation off)."""
        state = serving()
        return await activate(state, mode)

    @app.tool(name=ControlTool.PREPARE_STOP, structured_output=True)
    async def control_prepare_stop() -> dict[str, Any]:
        """Stop jobs (each keeps its last checkpoint in the database). The database stays open: a
        restart that fails after this rolls back to this worker, which then resumes its jobs; it
        is closed when the process ends."""
        state = serving()
        await state.running_jobs().stop_all()
        return {"ok": True}

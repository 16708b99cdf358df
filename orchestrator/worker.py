"""The worker: the orchestrator proper, in a process the supervisor can replace.

It serves the task tools, and `control_*` tools that only the supervisor calls: readiness facts,
maintenance mode, suspending jobs to a checkpoint, writing the state snapshot, and activation
(restore from the newest valid snapshot, or from the database alone). A worker started with
`--standalone` (directly by a client, no supervisor) activates itself and has no control tools;
a restart request there fails with RESTART_006.
"""

from __future__ import annotations

import argparse
import errno
import functools
import logging
import os
import sqlite3
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Annotated, Any

import anyio
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import Field

from orchestrator import __version__, clock, faultpoints, lockfile, rebuild, snapshot, table_copy
from orchestrator.blocking import run_blocking
from orchestrator.config import ConfigError, Paths, resolve_base_dir, resolve_log_level
from orchestrator.control import ControlTool
from orchestrator.errors import ErrorCode
from orchestrator.jobs import JobRunner
from orchestrator.logs import logging_left_alone, setup_logging
from orchestrator.rows import active_tasks
from orchestrator.store import StoreBusyError, StoreError, TaskStore
from orchestrator.task_tools import register_task_tools
from orchestrator.tasks import TaskService

log = logging.getLogger(__name__)

DISK_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EACCES, errno.EPERM, errno.EROFS, errno.EIO, errno.EFBIG}
DB_RETRY_PAUSE_S = 0.05
DB_RETRY_WAIT_S = 0.5  # each WAL checkpoint attempt waits at most this long for a foreign lock
DISK_FULL_MARKERS = ("disk is full", "disk i/o error", "readonly database")


@dataclass
class WorkerState:
    paths: Paths
    store: TaskStore
    service: TaskService
    jobs: JobRunner | None = None
    activated: bool = False
    maintenance: bool = False
    restore_report: dict[str, Any] | None = None
    database_problem: rebuild.DatabaseProblem | None = None  # found at start, repaired at activation
    idempotency_window_s: float = table_copy.IDEMPOTENCY_WINDOW_S
    started_at: str = field(default_factory=lambda: clock.utc_now().isoformat())

    def gate(self) -> None:
        """Task tools refuse work until activation and while in maintenance mode."""
        if not self.activated:
            raise ToolError("RESTART_001: the worker is still starting (not activated yet); retry shortly")
        if self.maintenance:
            raise ToolError(
                "the server is in maintenance mode for a restart; the supervisor buffers requests"
            )

    def running_jobs(self) -> JobRunner:
        assert self.jobs is not None, "jobs start with the worker's task group"
        return self.jobs


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


def register_control_tools(app: MCPServer) -> None:
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


async def activate(state: WorkerState, mode: str) -> dict[str, Any]:
    if mode not in ("snapshot", "database", "interrupted"):
        raise ToolError(f"unknown activation mode {mode!r}: use snapshot, database or interrupted")
    if state.activated:
        return {"ok": True, "already_active": True, "restore_report": state.restore_report}
    await faultpoints.reached("worker.activate")
    jobs = state.running_jobs()
    checkpoints: list[Any] = []  # the snapshot's job checkpoints at suspension (a rebuild restored them already)
    rebuilt = await repair_database(state)
    if rebuilt is not None and rebuilt["rebuilt"]:
        report = {"used": rebuilt["snapshot"], "source": rebuilt["source"], "rejected": rebuilt["rejected"]}
    elif mode == "snapshot":
        restored = await run_blocking(snapshot.load_latest, state.paths)
        report = restored.summary()
        checkpoints = restored.document["suspended_tasks"] if restored.document else []
    else:
        report = {"used": None, "source": "database_only", "rejected": []}
    try:
        if mode == "interrupted":
            marked = await jobs.mark_interrupted()
            report["note"] = (
                "jobs left running will be marked interrupted once the database lock is released"
                if marked["pending"]
                else "running jobs marked interrupted"
            )
        else:
            if mode == "database":
                report["note"] = "snapshot not requested"
            if checkpoints:
                report["checkpoints"] = await jobs.resume_from(checkpoints)
            await jobs.resume_from_database()
        if pruned := await prune_idempotency_keys(state):
            report["idempotency_keys_pruned"] = pruned
    except (StoreError, sqlite3.Error) as exc:
        # Serve anyway: a damaged database is diagnosed through the health check, not by refusing to start.
        log.error("database error while restoring jobs: %s", exc)
        report["database_error"] = str(exc)
    if report["source"] == "database_only" and report["rejected"]:
        report["note"] = "no valid snapshot: started from the database alone"
    if rebuilt is not None:
        report["rebuild"] = {key: value for key, value in rebuilt.items() if key not in ("source", "rejected")}
    state.restore_report = report
    state.activated = True
    log.info("worker %d activated (%s): %s", os.getpid(), mode, report)
    return {"ok": True, "restore_report": report, "jobs": jobs.stats()}


async def prune_idempotency_keys(state: WorkerState) -> int:
    """Forget the idempotency keys outside the window. Counted first, so that a database another
    process holds locked does not keep activation waiting for a write with nothing to do."""
    since = table_copy.idempotency_since(state.idempotency_window_s)
    if not await run_blocking(state.store.read, lambda conn: table_copy.idempotency_keys_outside(conn, since)):
        return 0
    return await run_blocking(state.store.write, lambda conn: table_copy.prune_idempotency(conn, since))


async def repair_database(state: WorkerState) -> dict[str, Any] | None:
    """Rebuild a database found missing, empty, unreadable or corrupt at start from the newest
    valid snapshot, and say so loudly; None when there was nothing to repair (a first start, with
    neither a database nor a snapshot, included)."""
    problem, state.database_problem = state.database_problem, None
    if problem is None:
        return None
    try:
        rebuilt = await run_blocking(rebuild.rebuild, state.paths, problem, state.store.replace_file)
        if problem.kind == "replaced":
            await run_blocking(rebuild.clear_restore_request, state.paths)
    except (OSError, StoreError, sqlite3.Error) as exc:  # e.g. a full disk: serve what there is, and say why
        rebuilt = rebuild.failed(problem, f"the rebuild failed: {exc}", [])
    no_snapshot_ever = not state.paths.state_dir.is_dir()  # unusable at start: RESTART_001 says so
    first_start = no_snapshot_ever or all(rejected["reason"] == "file is missing" for rejected in rebuilt["rejected"])
    if not rebuilt["rebuilt"] and problem.kind == "missing" and first_start:
        return None
    log.error("%s (lost: %s; rejected: %s)", rebuilt["summary"], rebuilt.get("lost_writes"), rebuilt["rejected"])
    return rebuilt


def register_standalone_restart(app: MCPServer) -> None:
    @app.tool(name="orchestrator_restart_server", structured_output=True)
    async def orchestrator_restart_server() -> dict[str, Any]:
        """Restart needs the supervisor: this worker was started directly, so it cannot be replaced."""
        error = ErrorCode.PROCESS_MANAGEMENT_FAILED
        return {
            "success": False,
            "error_code": error.code,
            "error": "no supervisor is running: this worker was started directly (--standalone) and cannot "
            "replace itself; start the server with `python -m mcp_task_orchestrator.server`",
            "solution": error.value.solution,
        }


_serving: ContextVar[WorkerState] = ContextVar("serving_worker")


def serving() -> WorkerState:
    """The worker whose tools run in this context (set by `running_worker`)."""
    return _serving.get()


@contextmanager
def serving_as(state: WorkerState) -> Iterator[None]:
    """Run tools for `state` in this context: an in-process client calls the tools in its own task."""
    token = _serving.set(state)
    try:
        yield
    finally:
        _serving.reset(token)


@functools.cache
def worker_app(standalone: bool) -> MCPServer:
    """The worker's MCP server, built once per process: building the tools' argument models is
    most of a worker's start-up. Its tools serve `serving()`, which is one worker per process live;
    the simulator runs several workers in one process on this one app."""
    with logging_left_alone():  # the simulator builds it in the harness's process
        app = MCPServer(
            "mcp-task-orchestrator-worker",
            version=__version__,
            instructions="Task orchestrator: plan tasks into specialist subtasks, execute and complete them.",
        )
    register_task_tools(app, serving)
    if standalone:
        register_standalone_restart(app)
    else:
        register_control_tools(app)
    return app


@asynccontextmanager
async def running_worker(
    paths: Paths, standalone: bool, idempotency_window_s: float = table_copy.IDEMPOTENCY_WINDOW_S
) -> AsyncIterator[MCPServer]:
    """A worker's state, jobs and MCP server, from start-up until its jobs are stopped.

    The process serves it over stdio (`serve`); the simulator serves it in-process.
    """
    await faultpoints.reached("worker.start")
    problem = await run_blocking(rebuild.database_problem, paths.database)
    if problem is not None and problem.kind in ("empty", "unreadable"):  # the store could not open it
        problem.kept_as = await run_blocking(rebuild.move_aside, paths.database)
    problem = problem or await run_blocking(rebuild.restore_requested, paths)
    store = await run_blocking(TaskStore, paths.database)
    state = WorkerState(
        paths=paths, store=store, service=TaskService(store), database_problem=problem,
        idempotency_window_s=idempotency_window_s,
    )
    try:
        with serving_as(state):
            async with anyio.create_task_group() as task_group:
                state.jobs = JobRunner(store, task_group, paths.base)
                app = worker_app(standalone)
                if standalone:
                    await activate(state, "snapshot")
                yield app
                await state.jobs.stop_all()
                task_group.cancel_scope.cancel()
    finally:
        store.close()


async def serve(paths: Paths, standalone: bool, idempotency_window_s: float) -> None:
    async with running_worker(paths, standalone, idempotency_window_s) as app:
        await app.run_stdio_async()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m mcp_task_orchestrator.worker",
        description="Orchestrator worker process. Normally started by the supervisor; use --standalone "
        "to serve the task tools directly over stdio without the restart system.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "--base-dir",
        help="directory holding .task_orchestrator/ (default: $MCP_TASK_ORCHESTRATOR_BASE_DIR or cwd)",
    )
    parser.add_argument(
        "--log-level",
        help="DEBUG, INFO, WARNING, ERROR or CRITICAL (default: $MCP_TASK_ORCHESTRATOR_LOG_LEVEL or INFO)",
    )
    parser.add_argument(
        "--generation",
        type=int,
        help="which worker of its supervisor this is (set by the supervisor, which finds its pid by it)",
    )
    parser.add_argument(
        "--standalone",
        action="store_true",
        help="serve without a supervisor (restart tools fail with RESTART_006)",
    )
    args = parser.parse_args(argv)
    try:
        paths = Paths(resolve_base_dir(args.base_dir))
        setup_logging(paths, resolve_log_level(args.log_level), "worker")
        idempotency_window_s = table_copy.resolve_idempotency_window(os.environ.get(table_copy.IDEMPOTENCY_WINDOW_ENV))
    except (ConfigError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    lock_note = None
    if standalone := args.standalone:
        try:
            lock_note = lockfile.acquire(paths.lock_file)
        except lockfile.LockHeld as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    if lock_note:
        log.warning(lock_note)
    log.info("worker %d starting (base %s)", os.getpid(), paths.base)
    try:
        anyio.run(serve, paths, standalone, idempotency_window_s)
    except KeyboardInterrupt:
        pass
    finally:
        if standalone:
            lockfile.release(paths.lock_file)
    return 0

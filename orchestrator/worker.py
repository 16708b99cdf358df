"""The worker: the orchestrator proper, in a process the supervisor can replace.

It serves the task tools (`task_tools`), and `control_*` tools that only the supervisor calls
(`control_tools`): readiness facts, maintenance mode, suspending jobs to a checkpoint, writing
the state snapshot, and activation (`activation`: restore from the newest valid snapshot, or from
the database alone). This module holds the worker's state, its MCP app and its process. A worker
started with `--standalone` (directly by a client, no supervisor) activates itself and has no
control tools; a restart request there fails with RESTART_006.
"""

from __future__ import annotations

import argparse
import functools
import logging
import os
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

import anyio
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError

from orchestrator import __version__, clock, faultpoints, lockfile, rebuild, table_copy
from orchestrator.activation import activate
from orchestrator.blocking import run_blocking
from orchestrator.config import ConfigError, Paths, resolve_base_dir, resolve_log_level
from orchestrator.control_tools import register_control_tools
from orchestrator.errors import ErrorCode
from orchestrator.jobs import JobRunner
from orchestrator.logs import logging_left_alone, setup_logging
from orchestrator.store import TaskStore
from orchestrator.task_tools import register_task_tools
from orchestrator.tasks import TaskService

log = logging.getLogger(__name__)


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
        register_control_tools(app, serving)
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

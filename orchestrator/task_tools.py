"""The task tools an MCP client sees, as thin typed wrappers over TaskService and JobRunner.

Parameter types and bounds live in the signatures, so the SDK rejects malformed arguments
before a tool runs; TaskService re-checks meaning (ids exist, transitions are allowed). A
refused call becomes a `ToolError`: the client gets `is_error=True` and a message saying
what to fix.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any, Literal, Protocol

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import CallToolResult, TextContent, Tool
from pydantic import BaseModel, ConfigDict, Field, model_validator

from orchestrator import faultpoints, roles
from orchestrator.blocking import run_blocking
from orchestrator.errors import ErrorCode, RestartFailure
from orchestrator.job_spec import MAX_ARGV, MAX_DURATION_S, JobSpecError
from orchestrator.jobs import JobError, JobRunner
from orchestrator.logs import logging_left_alone
from orchestrator.rows import COMPLEXITIES, TASK_STATUSES
from orchestrator.store import StoreError, StoreFullError
from orchestrator.tasks import (
    MAX_ARTIFACTS,
    MAX_KEY,
    MAX_QUERY_LIMIT,
    MAX_SUBTASKS,
    MAX_SUMMARY,
    MAX_TEXT,
    MAX_TITLE,
    NEXT_ACTIONS,
    PRIORITY_RANGE,
    SETTABLE_STATUSES,
    TaskInputError,
    TaskService,
)

RoleName = Literal[tuple(roles.ROLES)]  # type: ignore[valid-type]
Complexity = Literal[COMPLEXITIES]  # type: ignore[valid-type]

TaskId = Annotated[
    str, Field(pattern=r"^[0-9a-f]{32}$", description="A task id (32 lowercase hex characters).")
]
IdempotencyKey = Annotated[
    str | None,
    Field(
        min_length=1,
        max_length=MAX_KEY,
        description="Makes a retried call safe: a call repeating a key returns the first call's result "
        "and changes nothing. The supervisor fills it in; clients normally leave it out.",
    ),
]
Seconds = Annotated[float, Field(gt=0, le=MAX_DURATION_S)]


TEST_SWITCHES = ("ignore_suspend", "ignore_suspend_s")  # how the chaos harness makes a job hang


def _hide_test_switches(schema: dict[str, Any]) -> None:
    if not faultpoints.enabled():
        for name in TEST_SWITCHES:
            schema.get("properties", {}).pop(name, None)


class JobSpecModel(BaseModel):
    """Background work attached to a task, carried across restarts. The hang switches are for the
    chaos harness: refused, and absent from the tool schema, unless fault injection is on."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_hide_test_switches)

    kind: Literal["builtin", "command"] = Field(
        description="builtin: timed work inside the server; command: an external program (disabled unless "
        "the server allows command jobs)."
    )
    duration_s: Seconds | None = Field(None, description="builtin only: how long the work takes, in seconds.")
    argv: Annotated[list[str], Field(min_length=1, max_length=MAX_ARGV)] | None = Field(
        None, description="command only: program and arguments, run without a shell in the base directory."
    )
    checkpoint_interval_s: Seconds = Field(0.5, description="How often progress is saved to the database.")
    ignore_suspend: bool | None = Field(
        None, description="Keep running when a restart asks jobs to stop (simulates a hung task)."
    )
    ignore_suspend_s: Seconds | None = Field(
        None, description="With ignore_suspend: comply with a stop request after this many seconds."
    )
    suspendable: bool = Field(
        True, description="false: this work cannot be suspended, so a graceful restart is refused while it runs."
    )

    @model_validator(mode="after")
    def _test_switches_need_fault_injection(self) -> JobSpecModel:
        used = [name for name in TEST_SWITCHES if getattr(self, name) is not None]
        if used and not faultpoints.enabled():
            raise ValueError(f"{', '.join(used)}: no such job option (a test switch, only with fault injection on)")
        return self


class SubtaskModel(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Annotated[str, Field(min_length=1, max_length=MAX_TITLE)]
    description: Annotated[str, Field(max_length=MAX_TEXT)] = ""
    specialist_role: RoleName = Field(description="The specialist who executes this subtask.")
    complexity: Complexity = "moderate"
    job: JobSpecModel | None = Field(
        None, description="Background work started when the subtask is executed."
    )


_REFUSALS = (TaskInputError, JobSpecError, JobError, StoreError)


@contextmanager
def _refusals_as_tool_errors() -> Iterator[None]:
    try:
        yield
    except _REFUSALS as exc:
        raise ToolError(str(exc)) from exc


def disk_full_answer(exc: StoreFullError) -> CallToolResult:
    """A write the database's full disk refused, answered with the guide's code for a disk that cannot take
    the state (RESTART_005: check disk space), the code a restart on that disk gets too. Not RESTART_008,
    whose remedy (reset the database) would throw away what is in it."""
    failure = RestartFailure(ErrorCode.STATE_SERIALIZATION_FAILED, f"{exc}; nothing was written: free space, then retry")
    payload = {"success": False, **failure.fields()}
    return CallToolResult(content=[TextContent(type="text", text=json.dumps(payload))], structured_content=payload, is_error=True)


class ServedWorker(Protocol):
    """What the task tools need of the worker they serve."""

    service: TaskService

    def running_jobs(self) -> JobRunner: ...

    def gate(self) -> None:
        """Raise ToolError while the worker must not take work (starting, maintenance)."""


TASK_TOOLS = (  # the one list of the task tools' names; registration checks it
    "orchestrator_initialize_session",
    "orchestrator_plan_task",
    "orchestrator_execute_subtask",
    "orchestrator_complete_subtask",
    "orchestrator_update_task",
    "orchestrator_cancel_task",
    "orchestrator_delete_task",
    "orchestrator_query_tasks",
    "orchestrator_get_status",
    "orchestrator_synthesize_results",
    "orchestrator_start_job",
)


class _TaskTools:
    """What every task tool shares: the app it is registered on, the worker it serves, and the
    names registered so far (in order, checked against TASK_TOOLS)."""

    def __init__(self, app: MCPServer, served: Callable[[], ServedWorker]) -> None:
        self.app = app
        self.served = served
        self.names: list[str] = []

    def service(self) -> TaskService:
        return self.served().service

    def jobs(self) -> JobRunner:
        return self.served().running_jobs()

    def tool(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """Register `fn` as the tool of its name; a write the full disk refused answers with RESTART_005."""

        @functools.wraps(fn)
        async def answered(**arguments: Any) -> Any:
            try:
                return await fn(**arguments)
            except ToolError as refused:
                if isinstance(refused.__cause__, StoreFullError):
                    return disk_full_answer(refused.__cause__)
                raise

        self.app.tool(name=fn.__name__, structured_output=True)(answered)
        self.names.append(fn.__name__)
        return fn

    async def call(self, method: Callable[..., dict[str, Any]], **kwargs: Any) -> dict[str, Any]:
        self.served().gate()
        with _refusals_as_tool_errors():
            return await run_blocking(functools.partial(method, **kwargs))

    async def run_job_if_any(self, result: dict[str, Any]) -> dict[str, Any]:
        if result.get("job") is not None:
            with _refusals_as_tool_errors():
                result["job_started"] = await self.jobs().ensure_running(result["task_id"])
        return result

    async def stop_live_jobs(self, task_ids: list[str]) -> None:
        live = {job["task_id"] for job in self.jobs().stats()["jobs"]}
        with _refusals_as_tool_errors():
            for task_id in task_ids:
                if task_id in live:
                    await self.jobs().cancel(task_id)


def register_task_tools(app: MCPServer, served: Callable[[], ServedWorker]) -> list[str]:
    """Register the orchestrator_* task tools on `app`. Each call asks `served()` for the worker it
    serves, so one app can serve whichever worker runs in the calling context; its gate runs first."""
    tools = _TaskTools(app, served)
    _register_session_and_planning(tools)
    _register_subtask_work(tools)
    _register_task_changes(tools)
    _register_queries_and_results(tools)
    _register_jobs(tools)
    if tuple(tools.names) != TASK_TOOLS:
        raise RuntimeError(f"registered task tools {tools.names} differ from TASK_TOOLS")
    return tools.names


def _register_session_and_planning(tools: _TaskTools) -> None:
    """Opening a session and planning a task into subtasks."""

    @tools.tool
    async def orchestrator_initialize_session(
        client_name: Annotated[str, Field(min_length=1, max_length=MAX_TITLE)],
        working_directory: Annotated[str | None, Field(max_length=4096)] = None,
        idempotency_key: IdempotencyKey = None,
    ) -> dict[str, Any]:
        """Start a working session: returns a session id, the specialist roles available, and how to
        use the orchestrator (plan, execute each subtask, complete it, synthesize)."""
        return await tools.call(
            tools.service().initialize_session,
            client_name=client_name,
            working_directory=working_directory,
            idempotency_key=idempotency_key,
        )

    @tools.tool
    async def orchestrator_plan_task(
        title: Annotated[str, Field(min_length=1, max_length=MAX_TITLE)],
        description: Annotated[str, Field(max_length=MAX_TEXT)],
        subtasks: Annotated[list[SubtaskModel], Field(min_length=1, max_length=MAX_SUBTASKS)],
        complexity: Complexity = "moderate",
        idempotency_key: IdempotencyKey = None,
    ) -> dict[str, Any]:
        """Create a task and its plan: a parent task plus one subtask per step, each assigned to a
        specialist role. Returns the created tasks with their ids; execute subtasks in order with
        orchestrator_execute_subtask. A subtask may carry a background `job`."""
        return await tools.call(
            tools.service().plan_task,
            title=title,
            description=description,
            subtasks=[s.model_dump(exclude_none=True) for s in subtasks],
            complexity=complexity,
            idempotency_key=idempotency_key,
        )


def _register_subtask_work(tools: _TaskTools) -> None:
    """Working through a plan: begin a subtask, then record it finished."""

    @tools.tool
    async def orchestrator_execute_subtask(
        task_id: TaskId, idempotency_key: IdempotencyKey = None
    ) -> dict[str, Any]:
        """Begin a subtask: marks it in progress and returns the specialist's context and
        instructions to follow. If the subtask has a background job, the job starts (or continues
        from its last checkpoint) and completes the subtask by itself when it finishes."""
        return await tools.run_job_if_any(
            await tools.call(
                tools.service().execute_subtask, task_id=task_id, idempotency_key=idempotency_key
            )
        )

    @tools.tool
    async def orchestrator_complete_subtask(
        task_id: TaskId,
        summary: Annotated[str, Field(min_length=1, max_length=MAX_SUMMARY)],
        artifacts: Annotated[list[str | dict[str, Any]], Field(max_length=MAX_ARTIFACTS)] | None = None,
        next_action: Literal[NEXT_ACTIONS] = "continue",  # type: ignore[valid-type]
        idempotency_key: IdempotencyKey = None,
    ) -> dict[str, Any]:
        """Record a finished subtask: a summary of what was done and found, and its artifacts (file
        paths or structured results). Returns the parent's progress and the next subtask to execute."""
        return await tools.call(
            tools.service().complete_subtask,
            task_id=task_id,
            summary=summary,
            artifacts=artifacts,
            next_action=next_action,
            idempotency_key=idempotency_key,
        )


def _register_task_changes(tools: _TaskTools) -> None:
    """Changing, cancelling and removing a task."""

    @tools.tool
    async def orchestrator_update_task(
        task_id: TaskId,
        title: Annotated[str | None, Field(min_length=1, max_length=MAX_TITLE)] = None,
        description: Annotated[str | None, Field(max_length=MAX_TEXT)] = None,
        status: Literal[SETTABLE_STATUSES] | None = None,  # type: ignore[valid-type]
        priority: Annotated[int | None, Field(ge=PRIORITY_RANGE[0], le=PRIORITY_RANGE[1])] = None,
        idempotency_key: IdempotencyKey = None,
    ) -> dict[str, Any]:
        """Change a task's title, description, status or priority (0 lowest .. 10 highest). Status
        changes must follow the task lifecycle; a task with a running background job changes status
        only through its job or orchestrator_cancel_task."""
        return await tools.call(
            tools.service().update_task,
            task_id=task_id,
            title=title,
            description=description,
            status=status,
            priority=priority,
            idempotency_key=idempotency_key,
        )

    @tools.tool
    async def orchestrator_cancel_task(
        task_id: TaskId,
        reason: Annotated[str | None, Field(max_length=MAX_TEXT)] = None,
        idempotency_key: IdempotencyKey = None,
    ) -> dict[str, Any]:
        """Cancel a task and every unfinished subtask under it, stopping their background jobs().
        Completed subtasks keep their results."""
        result = await tools.call(
            tools.service().cancel_task, task_id=task_id, reason=reason, idempotency_key=idempotency_key
        )
        await tools.stop_live_jobs(result["cancelled_task_ids"])
        return result

    @tools.tool
    async def orchestrator_delete_task(
        task_id: TaskId,
        archive: bool = True,
        force: bool = False,
        idempotency_key: IdempotencyKey = None,
    ) -> dict[str, Any]:
        """Remove a task and its subtasks from view. By default they are archived (kept, hidden from
        queries unless include_archived); archive=false deletes them permanently. Tasks still in
        progress are refused unless force=true, which also stops their jobs()."""
        result = await tools.call(
            tools.service().delete_task,
            task_id=task_id,
            archive=archive,
            force=force,
            idempotency_key=idempotency_key,
        )
        await tools.stop_live_jobs(result["affected_task_ids"])
        return result


def _register_queries_and_results(tools: _TaskTools) -> None:
    """Finding tasks, the overall status, and combining finished subtasks into the parent's result."""

    @tools.tool
    async def orchestrator_query_tasks(
        status: Literal[TASK_STATUSES] | None = None,  # type: ignore[valid-type]
        specialist_role: RoleName | None = None,
        parent_id: TaskId | None = None,
        text: Annotated[str | None, Field(min_length=1, max_length=MAX_TITLE)] = None,
        include_archived: bool = False,
        limit: Annotated[int, Field(ge=1, le=MAX_QUERY_LIMIT)] = 50,
        offset: Annotated[int, Field(ge=0)] = 0,
    ) -> dict[str, Any]:
        """Find tasks, newest first, filtered by status, role, parent or text in the title or
        description. Paged: returns `total` and `has_more`; pass offset=offset+limit for the next page."""
        return await tools.call(
            tools.service().query_tasks,
            status=status,
            specialist_role=specialist_role,
            parent_id=parent_id,
            text=text,
            include_archived=include_archived,
            limit=limit,
            offset=offset,
        )

    @tools.tool
    async def orchestrator_get_status() -> dict[str, Any]:
        """Where everything stands: task counts per status, background jobs (from the database and
        as running in this server), and the most recent tasks."""
        result = await tools.call(tools.service().get_status)
        result["live_jobs"] = tools.jobs().stats()
        return result

    @tools.tool
    async def orchestrator_synthesize_results(
        parent_id: TaskId, idempotency_key: IdempotencyKey = None
    ) -> dict[str, Any]:
        """Combine the completed subtasks' summaries and artifacts into the parent task's result.
        The parent is marked completed once every subtask is completed or cancelled; otherwise the
        result lists the subtasks still remaining."""
        return await tools.call(
            tools.service().synthesize_results, parent_id=parent_id, idempotency_key=idempotency_key
        )


def _register_jobs(tools: _TaskTools) -> None:
    """Attaching background work to an existing task."""

    @tools.tool
    async def orchestrator_start_job(
        task_id: TaskId, job: JobSpecModel, idempotency_key: IdempotencyKey = None
    ) -> dict[str, Any]:
        """Attach background work to an existing task and start it. The job saves its progress as it
        goes, survives server restarts (continuing from its last checkpoint) and completes the task
        when it finishes. One active job per task."""
        return await tools.run_job_if_any(
            await tools.call(
                tools.service().start_job,
                task_id=task_id,
                spec=job.model_dump(exclude_none=True),
                idempotency_key=idempotency_key,
            )
        )


_listed: list[Tool] = []


async def task_tool_list() -> list[Tool]:
    """The task tools as clients see them, from their registration in the code: the supervisor's
    own list (whichever worker runs, or none) and what `chaos validate` checks scenarios against.
    Built once per process (~40 ms; the simulator starts many supervisors)."""
    if not _listed:
        with logging_left_alone():
            app = MCPServer("mcp-task-orchestrator-tools")
        register_task_tools(app, _no_worker_in_this_process)
        _listed.extend(await app.list_tools())
    return list(_listed)


def _no_worker_in_this_process() -> ServedWorker:
    raise RuntimeError("this process lists the task tools; a worker process runs them")

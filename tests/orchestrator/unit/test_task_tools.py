"""The task tools through the SDK's in-process client: structured results, refusals, gate, jobs."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from types import SimpleNamespace
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError

from orchestrator.config import ALLOW_COMMAND_JOBS_ENV, Paths
from orchestrator.jobs import JobRunner
from orchestrator.store import TaskStore
from orchestrator.task_tools import TASK_TOOLS, register_task_tools
from orchestrator.tasks import TaskService

TOOLS = set(TASK_TOOLS)


async def wait_until_async(predicate: Callable[[], Any], timeout: float = 10.0) -> Any:
    """Poll an async `predicate` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not (value := await predicate()):
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        await anyio.sleep(0.01)
    return value


class Harness:
    def __init__(self, client: Client, jobs: JobRunner, names: list[str]) -> None:
        self.client, self.jobs, self.names = client, jobs, names

    async def ok(self, tool: str, **arguments: Any) -> dict[str, Any]:
        result = await self.client.call_tool(tool, arguments)
        assert not result.is_error, result.content
        return result.structured_content

    async def refused(self, tool: str, **arguments: Any) -> str:
        result = await self.client.call_tool(tool, arguments)
        assert result.is_error
        return result.content[0].text

    async def task_count(self) -> int:
        return (await self.ok("orchestrator_query_tasks", include_archived=True))["total"]


@asynccontextmanager
async def harness(tmp_path, gate: Callable[[], None] | None = None) -> AsyncIterator[Harness]:
    store = TaskStore(Paths(tmp_path).database)
    try:
        async with anyio.create_task_group() as tg:
            jobs = JobRunner(store, tg)
            app = MCPServer("test-orchestrator")
            served = SimpleNamespace(service=TaskService(store), running_jobs=lambda: jobs, gate=gate or (lambda: None))
            names = register_task_tools(app, lambda: served)
            try:
                async with Client(app) as client:
                    yield Harness(client, jobs, names)
            finally:
                await jobs.stop_all()
    finally:
        store.close()


SUBTASKS = [
    {"title": "design", "specialist_role": "architect"},
    {"title": "build", "description": "write the code", "specialist_role": "implementer"},
]


@pytest.fixture(autouse=True)
def no_command_jobs(monkeypatch):
    monkeypatch.delenv(ALLOW_COMMAND_JOBS_ENV, raising=False)


async def test_registers_every_task_tool(tmp_path):
    async with harness(tmp_path) as h:
        assert set(h.names) == TOOLS
        listed = await h.client.list_tools()
        assert {tool.name for tool in listed.tools} == TOOLS
        assert all(tool.description for tool in listed.tools)


async def test_lifecycle_through_the_client(tmp_path):
    async with harness(tmp_path) as h:
        session = await h.ok("orchestrator_initialize_session", client_name="pytest")
        assert len(session["session_id"]) == 32
        planned = await h.ok("orchestrator_plan_task", title="Ship", description="ship it", subtasks=SUBTASKS)
        parent_id = planned["parent_task"]["id"]
        for sub in planned["subtasks"]:
            executed = await h.ok("orchestrator_execute_subtask", task_id=sub["id"])
            assert sub["title"] in executed["instructions"]
            await h.ok(
                "orchestrator_complete_subtask",
                task_id=sub["id"],
                summary=f"{sub['title']} done",
                artifacts=["x.py"],
            )
        synthesized = await h.ok("orchestrator_synthesize_results", parent_id=parent_id)
        assert synthesized["status"] == "completed"
        assert synthesized["result"]["artifacts"] == ["x.py", "x.py"]
        status = await h.ok("orchestrator_get_status")
        assert status["counts"]["completed"] == 3
        assert status["live_jobs"]["running"] == 0


@pytest.mark.parametrize(
    ("tool", "arguments"),
    [
        ("orchestrator_plan_task", {"title": 123, "description": "", "subtasks": SUBTASKS}),
        ("orchestrator_plan_task", {"title": "t", "description": "", "subtasks": []}),
        ("orchestrator_plan_task", {"title": "t", "description": "", "subtasks": [{"title": "x"}]}),
        (
            "orchestrator_plan_task",
            {"title": "t", "description": "", "subtasks": [{"title": "x", "specialist_role": "wizard"}]},
        ),
        (
            "orchestrator_plan_task",
            {"title": "t", "description": "", "subtasks": [{**SUBTASKS[0], "job": {"kind": "builtin"}}]},
        ),
        ("orchestrator_query_tasks", {"limit": 0}),
        ("orchestrator_query_tasks", {"limit": 501}),
        ("orchestrator_execute_subtask", {"task_id": "not-an-id"}),
        ("orchestrator_execute_subtask", {"task_id": "0" * 32}),
        ("orchestrator_update_task", {"task_id": "0" * 32, "priority": 11}),
        (
            "orchestrator_start_job",
            {"task_id": "0" * 32, "job": {"kind": "builtin", "duration_s": 1, "x": 1}},
        ),
    ],
)
async def test_bad_arguments_are_errors_that_change_nothing(tmp_path, tool, arguments):
    async with harness(tmp_path) as h:
        message = await h.refused(tool, **arguments)
        assert message
        assert await h.task_count() == 0


async def test_refusal_message_says_what_to_fix(tmp_path):
    async with harness(tmp_path) as h:
        planned = await h.ok("orchestrator_plan_task", title="t", description="", subtasks=SUBTASKS)
        task_id = planned["subtasks"][0]["id"]
        await h.ok("orchestrator_cancel_task", task_id=task_id)
        message = await h.refused("orchestrator_complete_subtask", task_id=task_id, summary="late")
        assert "cancelled and cannot become completed" in message


async def test_gate_refuses_before_anything_happens(tmp_path):
    closed = True

    def gate() -> None:
        if closed:
            raise ToolError("maintenance mode")

    async with harness(tmp_path, gate) as h:
        message = await h.refused("orchestrator_plan_task", title="t", description="", subtasks=SUBTASKS)
        assert "maintenance mode" in message
        closed = False
        assert await h.task_count() == 0


async def test_idempotency_key_replay_returns_the_first_result(tmp_path):
    async with harness(tmp_path) as h:
        args = {"title": "t", "description": "", "subtasks": SUBTASKS, "idempotency_key": "req-1"}
        first = await h.ok("orchestrator_plan_task", **args)
        replay = await h.ok("orchestrator_plan_task", **args)
        assert replay == first
        assert await h.task_count() == 3


async def test_executing_a_subtask_starts_its_job_once(tmp_path):
    async with harness(tmp_path) as h:
        job = {"kind": "builtin", "duration_s": 0.5, "checkpoint_interval_s": 0.05}
        planned = await h.ok(
            "orchestrator_plan_task", title="t", description="", subtasks=[{**SUBTASKS[1], "job": job}]
        )
        task_id = planned["subtasks"][0]["id"]
        first = await h.ok("orchestrator_execute_subtask", task_id=task_id, idempotency_key="exec-1")
        assert first["job_started"] is True
        replay = await h.ok("orchestrator_execute_subtask", task_id=task_id, idempotency_key="exec-1")
        assert replay["job_started"] is False
        assert h.jobs.stats()["running"] == 1

        async def completed() -> bool:
            found = await h.ok("orchestrator_query_tasks", status="completed")
            return found["total"] == 1

        await wait_until_async(completed)


async def test_start_job_and_cancel_stop_the_work(tmp_path):
    async with harness(tmp_path) as h:
        planned = await h.ok("orchestrator_plan_task", title="t", description="", subtasks=SUBTASKS)
        parent_id, task_id = planned["parent_task"]["id"], planned["subtasks"][0]["id"]
        started = await h.ok(
            "orchestrator_start_job", task_id=task_id, job={"kind": "builtin", "duration_s": 60}
        )
        assert started["job_started"] is True and started["job"]["status"] == "running"
        cancelled = await h.ok("orchestrator_cancel_task", task_id=parent_id, reason="enough")
        assert task_id in cancelled["cancelled_task_ids"]
        assert h.jobs.stats()["jobs"] == []
        status = await h.ok("orchestrator_get_status")
        assert status["active_jobs"] == []


async def test_command_job_refused_through_the_tool(tmp_path):
    async with harness(tmp_path) as h:
        planned = await h.ok("orchestrator_plan_task", title="t", description="", subtasks=SUBTASKS)
        message = await h.refused(
            "orchestrator_start_job",
            task_id=planned["subtasks"][0]["id"],
            job={"kind": "command", "argv": ["ls"]},
        )
        assert ALLOW_COMMAND_JOBS_ENV in message
        assert h.jobs.stats()["jobs"] == []


async def test_delete_archives_by_default(tmp_path):
    async with harness(tmp_path) as h:
        planned = await h.ok("orchestrator_plan_task", title="t", description="", subtasks=SUBTASKS)
        deleted = await h.ok("orchestrator_delete_task", task_id=planned["parent_task"]["id"])
        assert deleted["action"] == "archived"
        assert (await h.ok("orchestrator_query_tasks"))["total"] == 0
        assert await h.task_count() == 3


async def test_the_worker_registers_exactly_the_control_tools_the_supervisor_calls():
    from orchestrator.control import ControlTool
    from orchestrator.worker import worker_app

    names = {tool.name for tool in await worker_app(standalone=False).list_tools()}
    assert names == set(TASK_TOOLS) | {str(member) for member in ControlTool}

"""The task service through real server processes: stdio and streamable HTTP clients of the SDK."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys

import anyio
import pytest
from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_PARAMS

from chaos.target.client import call
from chaos.target.live.orchestrator import HttpOrchestrator, http_orchestrator, stdio_client
from chaos.waiting import wait_until
from orchestrator.config import Paths
from orchestrator.supervisor.reboot_tools import MODELS
from orchestrator.task_tools import TASK_TOOLS
from tests.orchestrator.integration.helpers import all_tasks, health, plan

pytestmark = pytest.mark.live



async def test_stdio_lifecycle_plan_execute_complete_query(base_dir):
    async with stdio_client(base_dir) as client:
        names = {tool.name for tool in (await client.list_tools()).tools}
        assert names == set(TASK_TOOLS) | set(MODELS)  # no control_* tool among them

        session = await call(client, "orchestrator_initialize_session", {"client_name": "pytest"})
        assert session.get("session_id")
        planned = await plan(client, "Ship the parser", subtasks=2)
        first, second = (task["id"] for task in planned["subtasks"])
        executed = await call(client, "orchestrator_execute_subtask", {"task_id": first})
        assert executed["status"] == "in_progress"
        assert "implementer" in json.dumps(executed["specialist"])
        for task_id in (first, second):
            if task_id == second:
                await call(client, "orchestrator_execute_subtask", {"task_id": task_id})
            done = await call(client, "orchestrator_complete_subtask", {"task_id": task_id, "summary": "done", "artifacts": ["a.txt"]})
            assert done["status"] == "completed", done
        synthesized = await call(client, "orchestrator_synthesize_results", {"parent_id": planned["parent_task"]["id"]})
        assert synthesized["status"] == "completed" and synthesized["complete"], synthesized
        completed = await call(client, "orchestrator_query_tasks", {"status": "completed"})
        assert {t["id"] for t in completed["tasks"]} >= {first, second}


async def test_bad_arguments_are_refused_and_change_nothing(base_dir):
    async with stdio_client(base_dir) as client:
        await plan(client, "Existing")
        before = await all_tasks(client)
        bad_calls = [
            ("orchestrator_plan_task", {"title": "", "description": "x", "subtasks": []}),
            ("orchestrator_plan_task", {"title": "t", "description": "x", "subtasks": [{"title": "a", "description": "b", "specialist_role": "wizard"}]}),
            ("orchestrator_query_tasks", {"limit": 0}),
            ("orchestrator_execute_subtask", {"task_id": "no-such-task"}),
            ("orchestrator_restart_server", {"timeout": 5}),
            ("orchestrator_restart_server", {"timeout": 301}),
            ("orchestrator_restart_server", {"reason": "because"}),
            ("orchestrator_restart_server", {"graceful": "yes"}),
            ("orchestrator_health_check", {"unknown_flag": True}),
        ]
        for tool, arguments in bad_calls:
            text = await refusal(client, tool, arguments)
            assert text.strip(), "an error must say what is wrong"
        timeout_error = await client.call_tool("orchestrator_restart_server", {"timeout": 5})
        assert "timeout" in timeout_error.content[0].text and "10" in timeout_error.content[0].text
        assert await all_tasks(client) == before
        status = await call(client, "orchestrator_restart_status", {"include_history": True})
        assert status["history"]["total_restarts"] == 0, "a refused argument must not count as a restart"


async def refusal(client, tool: str, arguments: dict) -> str:
    """What the server says to a refused call: a tool error, or (unknown argument names, NaN) an
    invalid-params protocol error, as MCP has it for invalid arguments."""
    try:
        result = await client.call_tool(tool, arguments)
    except MCPError as exc:
        assert exc.error.code == INVALID_PARAMS, (tool, arguments, exc)
        return exc.error.message
    assert result.is_error, (tool, arguments, result)
    return " ".join(getattr(block, "text", "") for block in result.content)


async def test_two_http_clients_at_once(base_dir):
    async with http_orchestrator(base_dir) as orchestrator:
        async with orchestrator.client(mode="legacy") as first, orchestrator.client(mode="legacy") as second:

            async def make(client, prefix):
                for index in range(5):
                    await plan(client, f"{prefix}-{index}")

            async with anyio.create_task_group() as group:
                group.start_soon(make, first, "alpha")
                group.start_soon(make, second, "beta")
            titles = sorted(t["title"] for t in await all_tasks(first) if t["parent_id"] is None)
            assert titles == sorted([f"alpha-{i}" for i in range(5)] + [f"beta-{i}" for i in range(5)])
            connections = (await health(second))["checks"]["connections"]
            assert connections["active_connections"] >= 2


async def test_job_checkpoints_progress_to_the_database(base_dir):
    async with http_orchestrator(base_dir) as orchestrator, orchestrator.client() as client:
        planned = await plan(client, "Long work", job={"kind": "builtin", "duration_s": 30, "checkpoint_interval_s": 0.1})
        task_id = planned["subtasks"][0]["id"]
        await call(client, "orchestrator_execute_subtask", {"task_id": task_id})
        database = Paths(base_dir).database

        def stored_progress() -> float:
            with sqlite3.connect(database) as conn:
                row = conn.execute("SELECT progress FROM jobs WHERE task_id = ?", (task_id,)).fetchone()
            return row[0] if row else 0.0

        first = await wait_until(lambda: stored_progress() or None, 10, "a first checkpoint")
        await wait_until(lambda: stored_progress() > first, 10, "a later checkpoint")


async def test_kill_9_then_start_again_keeps_every_acknowledged_task(base_dir):
    orchestrator = HttpOrchestrator(base_dir)
    await orchestrator.start()
    acknowledged = []
    try:
        async with orchestrator.client() as client:
            for index in range(20):
                result = await plan(client, f"durable-{index}")
                acknowledged.append(result["parent_task"]["id"])
            workers = orchestrator.worker_pids()
            assert workers, "the supervisor runs a worker child"
    finally:
        for pid in [orchestrator.pid, *orchestrator.worker_pids()]:
            os.kill(pid, signal.SIGKILL)
        orchestrator.process.wait()
    await wait_until(lambda: all(not os.path.exists(f"/proc/{pid}") for pid in workers), 10, "workers to die")
    assert Paths(base_dir).lock_file.exists(), "kill -9 leaves the lock behind"
    async with http_orchestrator(base_dir) as again, again.client() as client:
        ids = {t["id"] for t in await all_tasks(client)}
        assert set(acknowledged) <= ids
        assert (await health(client))["healthy"]


def test_invalid_log_level_is_a_one_line_error(base_dir):
    env = {**os.environ, "MCP_TASK_ORCHESTRATOR_LOG_LEVEL": "LOUD"}
    done = subprocess.run(
        [sys.executable, "-m", "mcp_task_orchestrator.server", "--base-dir", str(base_dir)],
        env=env, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "LOUD" in lines[0] and "DEBUG" in lines[0], done.stderr


def test_server_help_is_complete():
    done = subprocess.run([sys.executable, "-m", "mcp_task_orchestrator.server", "--help"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0
    for option in ("--base-dir", "--http", "--log-level", "MCP_TASK_ORCHESTRATOR_BASE_DIR", "MCP_TASK_ORCHESTRATOR_LOG_LEVEL"):
        assert option in done.stdout


async def test_debug_logging_under_an_mcp_client(base_dir):
    async with stdio_client(base_dir, env={"MCP_TASK_ORCHESTRATOR_LOG_LEVEL": "DEBUG"}) as client:
        await call(client, "orchestrator_get_status")
    log_text = Paths(base_dir).log_file.read_text()
    assert " DEBUG " in log_text
    assert "supervisor" in log_text and "worker" in log_text


async def test_processes_are_findable_by_the_guide_pattern(base_dir):
    async with http_orchestrator(base_dir) as orchestrator:
        await wait_until(orchestrator.worker_pids, 30, "the worker process")
        shell_env = {key: value for key, value in os.environ.items() if key not in ("COLUMNS", "LINES")}
        listing = subprocess.run(["ps", "aux"], capture_output=True, text=True, env=shell_env).stdout
        pids = {int(line.split()[1]) for line in listing.splitlines() if "mcp_task_orchestrator" in line}
        assert orchestrator.pid in pids
        assert set(orchestrator.worker_pids()) <= pids and orchestrator.worker_pids()

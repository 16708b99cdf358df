"""Self-healing against real processes: a worker lost at any moment is replaced without anyone asking."""

from __future__ import annotations

import json
import os
import re
import signal
from pathlib import Path

import pytest

from chaos.target.client import call
from chaos.target.live.orchestrator import child_pids, http_orchestrator
from chaos.waiting import wait_until
from orchestrator.config import Paths
from tests.orchestrator.integration.helpers import all_tasks, health, plan

pytestmark = pytest.mark.live


def is_worker(pid: int) -> bool:
    try:
        return b"mcp_task_orchestrator.worker" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


async def test_the_first_worker_killed_while_it_starts_is_replaced_and_task_tools_are_served(base_dir):
    log_file = Paths(base_dir).log_file

    def named_while_starting() -> int | None:
        """The first worker's pid once the supervisor's log names it, while it has not served yet."""
        log = log_file.read_text() if log_file.exists() else ""
        found = re.search(r"worker generation 1 starting as pid (\d+)", log)
        assert "worker generation 1 ready" not in log, "the first worker served before it could be killed"
        return int(found.group(1)) if found else None

    async with http_orchestrator(base_dir) as orchestrator, orchestrator.client() as client:
        starting = await wait_until(named_while_starting, 30, "the log to name the starting worker", interval_s=0.005)
        assert starting in child_pids(orchestrator.pid) and is_worker(starting)
        os.kill(starting, signal.SIGKILL)
        answered = await plan(client, "after a kill at start")  # waits in the buffer for the replacement
        assert "parent_task" in answered, answered
        after = await health(client)
        assert after["worker_pid"] not in (None, starting) and after["healthy"], after
        assert after["supervision"]["state"] == "serving" and after["supervision"]["worker_losses_total"] >= 1
        assert "orchestrator_plan_task" in {t.name for t in (await client.list_tools()).tools}
        assert f"worker generation 1 (pid {starting})" in log_file.read_text(), "its end is logged with its pid"


async def test_a_crash_loop_turns_degraded_with_restart_006_then_heals_once_the_cause_is_gone(base_dir, tmp_path):
    faults = tmp_path / "faults.json"
    faults.write_text(json.dumps({"worker.start": {"action": "exit"}}))
    env = {"MCP_TASK_ORCHESTRATOR_FAULTPOINTS": str(faults)}
    args = ["--worker-loss-limit", "5/60", "--slow-retry", "1", "--recovery-hold", "60"]
    async with http_orchestrator(base_dir, args, env) as orchestrator, orchestrator.client() as client:

        async def degraded() -> dict | None:
            report = await health(client)
            return report if report["supervision"]["state"] == "degraded" else None

        report = await wait_until(degraded, 60, "the orchestrator to declare itself degraded")
        assert report["supervision"]["error_code"] == "RESTART_006"
        assert "more than 5 worker losses in 60s" in report["supervision"]["reason"]
        assert not report["healthy"] and any("RESTART_006" in p for p in report["problems"]), report
        refused = await call(client, "orchestrator_plan_task", {"title": "t", "description": "", "subtasks": []})
        assert refused.get("error_code") == "RESTART_006", refused  # at once, and never "unknown tool"
        await wait_until(
            lambda: report_losses(client, at_least=10), 60, "ten worker start attempts in the crash loop"
        )
        assert not [pid for pid in child_pids(orchestrator.pid) if is_worker(pid) and pid_is_zombie(pid)]
        faults.write_text("{}")  # the cause is removed

        async def serving() -> dict | None:
            report = await health(client)
            return report if report["healthy"] else None

        healed = await wait_until(serving, 30, "the orchestrator to heal")
        assert healed["supervision"]["state"] == "serving" and healed["supervision"]["error_code"] is None
        answered = await plan(client, "after the crash loop")
        assert answered["parent_task"]["id"] in {t["id"] for t in await all_tasks(client)}


async def report_losses(client, at_least: int) -> bool:
    return (await health(client))["supervision"]["worker_losses_total"] >= at_least


def pid_is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return False


async def test_the_database_is_reported_disconnected_when_its_facts_cannot_be_read(base_dir):
    async with http_orchestrator(base_dir) as orchestrator, orchestrator.client() as client:
        await wait_until(lambda: serving(client), 30, "the first worker to serve")
        assert (await health(client))["checks"]["database"]["connected"] is True
        database = Paths(base_dir).database
        for suffix in ("-wal", "-shm"):
            database.with_name(database.name + suffix).unlink(missing_ok=True)
        database.write_bytes(b"this is not a database " * 400)  # under the worker's open connection
        report = await health(client)
        assert report["checks"]["database"]["connected"] is False, report["checks"]["database"]
        assert not report["healthy"]


async def serving(client) -> bool:
    return (await health(client))["supervision"]["state"] == "serving"

"""What the chaos tests share: a live orchestrator with a client and a fault context, and small calls."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mcp import Client

from chaos.faults import FaultContext
from chaos.host.namespace import Confinement
from chaos.target.client import call, until_serving
from chaos.target.live.orchestrator import HttpOrchestrator, http_orchestrator


@dataclass
class Live:
    orchestrator: HttpOrchestrator
    client: Client
    ctx: FaultContext

    async def restart(self, **arguments: Any) -> dict[str, Any]:
        return await call(self.client, "orchestrator_restart_server", {"timeout": 10, **arguments})

    async def status(self) -> dict[str, Any]:
        return (await call(self.client, "orchestrator_restart_status"))["current_status"]

    async def health(self) -> dict[str, Any]:
        return await call(self.client, "orchestrator_health_check")

    async def plan(self, title: str) -> set[str]:
        """Plan a task with one step (an acknowledged write); return the ids created."""
        planned = await call(
            self.client,
            "orchestrator_plan_task",
            {"title": title, "description": "chaos", "subtasks": [{"title": "step", "specialist_role": "implementer"}]},
        )
        return {planned["parent_task"]["id"], *(task["id"] for task in planned["subtasks"])}

    async def start_job(self, **job: Any) -> str:
        """Plan a one-step task whose step runs a builtin job, execute it; return the step's task id."""
        planned = await call(
            self.client,
            "orchestrator_plan_task",
            {
                "title": "chaos carrier",
                "description": "a task with a background job",
                "subtasks": [{"title": "job", "specialist_role": "implementer", "job": {"kind": "builtin", **job}}],
            },
        )
        task_id = planned["subtasks"][0]["id"]
        started = await call(self.client, "orchestrator_execute_subtask", {"task_id": task_id})
        assert started.get("job_started"), started
        return task_id

    async def job(self, task_id: str) -> dict[str, Any]:
        """The job as the serving worker runs it (status, progress)."""
        live_jobs = (await call(self.client, "orchestrator_get_status"))["live_jobs"]["jobs"]
        return next(job for job in live_jobs if job["task_id"] == task_id)

    async def task_ids(self) -> set[str]:
        page = await call(self.client, "orchestrator_query_tasks", {"limit": 500, "include_archived": True})
        return {task["id"] for task in page["tasks"]}


@asynccontextmanager
async def live(
    tmp_path: Path, *, confine: bool = False, faultpoints: bool = False, extra_args: list[str] | None = None
) -> AsyncIterator[Live]:
    """A serving orchestrator (its first worker up) and one client of it."""
    async with http_orchestrator(
        tmp_path / "base", extra_args, confine=Confinement() if confine else None, faultpoints=faultpoints
    ) as orchestrator:
        async with orchestrator.client(mode="legacy") as client:
            await until_serving(client)
            yield Live(orchestrator, client, orchestrator.fault_context(client))

"""Small helpers for live tests: planning tasks and reading the task list through MCP."""

from __future__ import annotations

from typing import Any

from mcp import Client

from chaos.target.client import call
from chaos.waiting import wait_until


async def plan(client: Client, title: str, job: dict[str, Any] | None = None, subtasks: int = 1) -> dict[str, Any]:
    items = []
    for index in range(subtasks):
        item: dict[str, Any] = {"title": f"{title} / step {index}", "description": "live test", "specialist_role": "implementer"}
        if job is not None:
            item["job"] = job
        items.append(item)
    result = await call(client, "orchestrator_plan_task", {"title": title, "description": "live test", "subtasks": items})
    assert "parent_task" in result, result
    return result


async def all_tasks(client: Client) -> list[dict[str, Any]]:
    tasks: list[dict[str, Any]] = []
    offset = 0
    while True:
        page = await call(client, "orchestrator_query_tasks", {"limit": 500, "offset": offset, "include_archived": True})
        tasks.extend(page["tasks"])
        if not page["has_more"]:
            return tasks
        offset += len(page["tasks"])


async def health(client: Client) -> dict[str, Any]:
    return await call(client, "orchestrator_health_check")


async def ready(client: Client) -> Client:
    """Wait until the first worker serves: a restart before that is refused with RESTART_001, by design."""

    async def serving() -> bool:
        return (await health(client))["worker_pid"] is not None and (await health(client))["healthy"]

    await wait_until(serving, 30, "the first worker to serve")
    return client

"""Talking to an orchestrator of any target through an MCP client: a tool's answer as JSON, and
waiting until the first worker serves. Live and simulated orchestrators are asked the same way."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mcp import Client
from mcp_types import CallToolResult

from chaos.waiting import wait_until

START_TIMEOUT_S = 30.0


def scratch_dir(base: Path) -> Path:
    """The harness's own files (the fault point file, a run's scratch) beside the orchestrator's, in `<base>/.chaos/`."""
    return base / ".chaos"


def structured(result: CallToolResult) -> dict[str, Any]:
    """The JSON object a tool answered with (error results included)."""
    if isinstance(result.structured_content, dict):
        return result.structured_content
    text = " ".join(getattr(block, "text", "") for block in result.content)
    try:
        value = json.loads(text)
    except ValueError:
        value = None
    if isinstance(value, dict):
        return value
    return {"is_error": result.is_error, "text": text}


async def call(client: Client, tool: str, arguments: dict[str, Any] | None = None, timeout_s: float = 330) -> dict[str, Any]:
    return structured(await client.call_tool(tool, arguments or {}, read_timeout_seconds=timeout_s))


async def until_serving(client: Client, timeout_s: float = START_TIMEOUT_S) -> dict[str, Any]:
    """Wait until the first worker serves (the endpoint is up before it); return the health check."""

    async def serving() -> dict[str, Any] | None:
        health = await call(client, "orchestrator_health_check")
        return health if health.get("worker_pid") and "worker not serving" not in health.get("problems", []) else None

    return await wait_until(serving, timeout_s, "the first worker to serve", interval_s=0.1)

"""Over stdio, a line the SDK cannot parse is answered, under its request's id (naming the argument
that nests too deep, as over HTTP), and the server goes on serving. It used to answer nothing: the
client waited for ever."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio
import pytest

from chaos.target.live.orchestrator import server_command, server_env
from orchestrator.supervisor.stdio_refusals import parse_error

pytestmark = pytest.mark.live

ANSWER_WITHIN_S = 30.0


def request(request_id: int, arguments: Any) -> str:
    call = {"name": "orchestrator_health_check", "arguments": arguments}
    return json.dumps({"jsonrpc": "2.0", "id": request_id, "method": "tools/call", "params": call})


def nested(depth: int) -> Any:
    value: Any = "deep"
    for _ in range(depth):
        value = [value]
    return value


async def answers(process: anyio.abc.Process, count: int) -> list[dict[str, Any]]:
    """The next `count` JSON-RPC messages the server writes (notifications skipped)."""
    assert process.stdout is not None
    found: list[dict[str, Any]] = []
    buffered = b""
    with anyio.fail_after(ANSWER_WITHIN_S):
        async for chunk in process.stdout:
            buffered += chunk
            *lines, buffered = buffered.split(b"\n")
            found += [message for line in lines if "id" in (message := json.loads(line))]
            if len(found) >= count:
                return found
    raise AssertionError(f"the server ended after {found}")


async def test_a_request_nested_past_the_parser_s_limit_gets_a_parse_error_and_the_server_serves_on(base_dir: Path):
    initialize = {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "raw", "version": "1"}}
    lines = [
        request(7, {"include_database_status": nested(400)}),
        "this is not JSON",
        json.dumps({"jsonrpc": "2.0", "id": 9, "method": "initialize", "params": initialize}),
    ]
    command = server_command(base_dir, [])
    async with await anyio.open_process(command, env=server_env(None), cwd=base_dir) as process:
        assert process.stdin is not None
        try:
            await process.stdin.send("".join(line + "\n" for line in lines).encode())
            deep, garbage, initialized = await answers(process, 3)
        finally:
            process.terminate()
    assert deep["id"] == 7 and deep["error"]["code"] == -32602  # as the strict check says it over HTTP
    assert deep["error"]["message"].startswith("include_database_status") and "deeper than 32 levels" in deep["error"]["message"]
    assert garbage["id"] is None and garbage["error"]["code"] == -32700
    assert garbage["error"]["message"].startswith("the request could not be parsed: Invalid JSON")
    assert initialized["id"] == 9 and initialized["result"]["serverInfo"]["name"]


def test_the_request_id_is_read_only_when_the_line_has_one():
    class Broken(Exception):
        pass

    assert parse_error(Broken()).id is None

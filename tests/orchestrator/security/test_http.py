"""Findings 1, 4 and 5: who may reach the HTTP server, checked before anything acts on a request."""

from __future__ import annotations

import http.client
import json
import subprocess
import sys
from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest

from chaos.target.live.orchestrator import http_orchestrator

pytestmark = pytest.mark.live

TOKEN = "t" * 40
INITIALIZE = {
    "jsonrpc": "2.0", "id": 1, "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "probe", "version": "1"}},
}  # fmt: skip
HEADERS = {"accept": "application/json, text/event-stream", "content-type": "application/json"}


def start(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mcp_task_orchestrator.server", *args],
        capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL, env=env,
    )  # fmt: skip


@dataclass
class Answer:
    status_code: int
    headers: dict[str, str]


def request(url: str, method: str = "POST", body: dict | None = None, source: str = "127.0.0.1", **headers: str) -> Answer:
    """One raw HTTP request from `source`, with any Host header a hostile peer would send."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30, source_address=(source, 0))
    try:
        sent = {**HEADERS, **{name.replace("_", "-"): value for name, value in headers.items()}}
        connection.putrequest(method, parts.path, skip_host="host" in sent)
        payload = json.dumps(body).encode() if body is not None else b""
        for name, value in {**sent, "content-length": str(len(payload))}.items():
            connection.putheader(name, value)
        connection.endheaders(payload)
        response = connection.getresponse()
        response.read()
        return Answer(response.status, {k.lower(): v for k, v in response.getheaders()})
    finally:
        connection.close()


def initialize(url: str, source: str = "127.0.0.1", **headers: str) -> Answer:
    return request(url, body=INITIALIZE, source=source, **headers)


def test_a_non_loopback_bind_needs_an_explicit_opt_in_and_a_token(base_dir):
    refused = start("--base-dir", str(base_dir), "--http", "0.0.0.0:0")
    assert refused.returncode == 2 and "--allow-remote" in refused.stderr and "token" in refused.stderr
    no_token = start("--base-dir", str(base_dir), "--http", "0.0.0.0:0", "--allow-remote")
    assert no_token.returncode == 2 and "bearer token" in no_token.stderr
    short = start("--base-dir", str(base_dir), "--http", "0.0.0.0:0", "--allow-remote", "--token-file", "/dev/null")
    assert short.returncode == 2 and "at least 32" in short.stderr


async def test_host_and_origin_are_checked_on_any_loopback_address_before_a_delete_acts(base_dir):
    async with http_orchestrator(base_dir, ["--http", "127.0.0.2:0"]) as orchestrator:
        url = orchestrator.url
        assert "127.0.0.2" in url
        assert initialize(url, host="evil.example").status_code == 421
        assert initialize(url, origin="http://evil.example").status_code == 403
        opened = initialize(url)
        assert opened.status_code == 200
        session = opened.headers["mcp-session-id"]
        refused = request(url, "DELETE", mcp_session_id=session, host="evil.example")
        assert refused.status_code == 421
        ping = {"jsonrpc": "2.0", "id": 2, "method": "ping"}
        assert request(url, body=ping, mcp_session_id=session).status_code == 200


async def test_a_configured_token_is_required_on_loopback_too(base_dir):
    async with http_orchestrator(base_dir, env={"MCP_TASK_ORCHESTRATOR_TOKEN": TOKEN}) as orchestrator:
        without = initialize(orchestrator.url)
        assert without.status_code == 401 and without.headers["www-authenticate"] == "Bearer"
        assert initialize(orchestrator.url, authorization="Bearer " + "x" * 40).status_code == 401
        assert initialize(orchestrator.url, authorization=f"Bearer {TOKEN}").status_code == 200


async def test_one_peer_flooding_sessions_does_not_lock_out_another(base_dir):
    async with http_orchestrator(base_dir) as orchestrator:
        statuses = [initialize(orchestrator.url).status_code for _ in range(300)]
        assert statuses.count(200) == 256 and statuses[-1] == 429
        assert initialize(orchestrator.url, source="127.0.0.2").status_code == 200

"""Finding 5: a client sees, tests and ends only its own session; the operator sees every one."""

from __future__ import annotations

import json
import stat
import sys

import anyio
import pytest

from chaos.target.client import call
from chaos.target.live.orchestrator import http_orchestrator
from orchestrator.supervisor.http_guard import OPERATOR_TOKEN_FILE, bearer_client, read_operator_token
from tests.orchestrator.security.test_http import TOKEN, initialize, request

pytestmark = pytest.mark.live


async def sessions_seen(client) -> list[str]:
    health = await call(client, "orchestrator_health_check", {"include_database_status": False})
    return [s["session_id"] for s in health["checks"]["connections"]["sessions"]]


async def test_another_client_neither_sees_nor_tests_nor_ends_a_session(base_dir):
    async with http_orchestrator(base_dir) as orchestrator, orchestrator.client(operator=False, mode="legacy") as first:
        (mine,) = await sessions_seen(first)  # the only session yet
        async with orchestrator.client(operator=False, mode="legacy") as second:
            shown = await sessions_seen(second)
            assert len(shown) == 2 and mine not in shown, shown
            (theirs,) = [s for s in shown if s != mine and not s.startswith("masked-")]
            probed = await call(second, "orchestrator_reconnect_test")
            assert sorted(p["session_id"] for p in probed["results"]["all_sessions"]) == sorted(shown)
            assert probed["overall_status"] == "pass", "masked, not missing: both sessions still answer"
            named = await call(second, "orchestrator_reconnect_test", {"session_id": mine})
            assert named["results"]["session_test"]["reason"].startswith("unknown session id"), named

            for session_id in shown:  # a DELETE with any id it was shown (its own aside) ends nothing
                if session_id != theirs:
                    assert request(orchestrator.url, "DELETE", mcp_session_id=session_id).status_code == 404
            assert "live_jobs" in await call(first, "orchestrator_get_status")

        async with orchestrator.client(mode="legacy") as operator:
            assert mine in await sessions_seen(operator)
            tested = await call(operator, "orchestrator_reconnect_test", {"session_id": mine})
            assert tested["results"]["session_test"]["status"] == "pass", tested


async def test_the_cli_is_the_operator_through_an_owner_only_token_file(base_dir):
    async with (
        http_orchestrator(base_dir) as orchestrator,
        orchestrator.client(operator=False, mode="legacy") as plain,
    ):
        (mine,) = await sessions_seen(plain)
        token_file = orchestrator.paths.root / OPERATOR_TOKEN_FILE
        assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
        cli = await anyio.run_process(
            [sys.executable, "-m", "orchestrator", "--base-dir", str(base_dir), "--json", "health"], check=False
        )
        sessions = json.loads(cli.stdout)["checks"]["connections"]["sessions"]
        assert mine in [s["session_id"] for s in sessions], cli.stdout


async def test_with_a_configured_token_its_holders_and_the_operator_token_get_in(base_dir):
    async with http_orchestrator(base_dir, env={"MCP_TASK_ORCHESTRATOR_TOKEN": TOKEN}) as orchestrator:
        operator_token = read_operator_token(orchestrator.paths.root)
        assert operator_token is not None and operator_token != TOKEN
        assert initialize(orchestrator.url, authorization=f"Bearer {operator_token}").status_code == 200
        async with (
            bearer_client(orchestrator.url, TOKEN, mode="legacy", cache=None) as one,
            bearer_client(orchestrator.url, TOKEN, mode="legacy", cache=None) as other,
        ):
            await call(one, "orchestrator_get_status")
            seen = await sessions_seen(other)
            assert len(seen) == 2 and not any(s.startswith("masked-") for s in seen), seen

"""`python -m orchestrator`: the guide's manual procedures against a running server and the files."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from chaos.live import http_orchestrator
from orchestrator import snapshot
from orchestrator.config import Paths
from tests.integration.helpers import ready

pytestmark = pytest.mark.live


def admin(base_dir, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "orchestrator", "--base-dir", str(base_dir), *args],
        capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
    )


async def test_health_status_restart_and_state_commands(base_dir):
    async with http_orchestrator(base_dir) as orchestrator, orchestrator.client() as client:
        await ready(client)
        health = admin(base_dir, "--json", "health")
        assert health.returncode == 0, health.stderr
        assert json.loads(health.stdout)["healthy"] is True
        for _ in range(2):
            restart = admin(base_dir, "restart", "--timeout", "60", "--reason", "configuration_update")
            assert restart.returncode == 0 and "success: True" in restart.stdout, restart.stdout + restart.stderr
        status = admin(base_dir, "--json", "status", "--history")
        history = json.loads(status.stdout)["history"]
        assert history["total_restarts"] == 2 and history["recent_restarts"][0]["reason"] == "configuration_update"
        bad = admin(base_dir, "restart", "--timeout", "5")
        assert bad.returncode == 1 and "timeout" in bad.stdout
        running_restore = admin(base_dir, "state", "restore", "--backup", snapshot.list_backups(Paths(base_dir))[0].name)
        assert running_restore.returncode == 1 and "stop it first" in running_restore.stderr

    verify = admin(base_dir, "state", "verify")
    assert verify.returncode == 0 and verify.stdout.startswith("ok  current_state.json")
    Paths(base_dir).current_state.write_text("{}")
    assert admin(base_dir, "state", "verify").returncode == 1
    backup = snapshot.list_backups(Paths(base_dir))[0]
    restored = admin(base_dir, "state", "restore", "--backup", backup.name)
    assert restored.returncode == 0, restored.stderr
    assert Paths(base_dir).current_state.read_bytes() == backup.read_bytes()
    escape = admin(base_dir, "state", "restore", "--backup", "../task_orchestrator.db")
    assert escape.returncode == 2 and "not a file directly inside" in escape.stderr


def test_without_a_running_server_the_cli_says_what_to_do(base_dir):
    result = admin(base_dir, "health")
    assert result.returncode == 2
    assert "--http" in result.stderr and "endpoint.json" in result.stderr

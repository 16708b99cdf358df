"""`python -m orchestrator`: the guide's manual procedures against a running server and the files."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from chaos.target.live.orchestrator import http_orchestrator
from orchestrator import snapshot
from orchestrator.config import Paths
from tests.orchestrator.integration.helpers import ready

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


ODD_FILES = {
    "directory": (lambda path: path.mkdir(), "is a directory"),
    "fifo": (lambda path: os.mkfifo(path), "is a FIFO"),
    "dangling symlink": (lambda path: path.symlink_to(path.with_name("backup_state_gone.json")), "does not exist"),
}


@pytest.mark.parametrize("kind", ODD_FILES)
def test_state_commands_answer_odd_files_with_a_message_and_an_exit_code(base_dir, kind):
    """A directory, a FIFO or a dangling symlink among the state files: no traceback, no hang."""
    make, message = ODD_FILES[kind]
    state_dir = Paths(base_dir).state_dir
    state_dir.mkdir(parents=True)
    odd = state_dir / "backup_state_20260101T000000.000000Z.json"
    make(odd)
    make(Paths(base_dir).current_state)

    restore = admin(base_dir, "state", "restore", "--backup", odd.name)
    assert restore.returncode == 1 and message in restore.stderr, restore
    verify = admin(base_dir, "state", "verify")
    assert verify.returncode == 1 and verify.stdout.count("BAD") == 2, verify
    listing = admin(base_dir, "state", "list")
    assert listing.returncode == 0 and odd.name in listing.stdout, listing
    for result in (restore, verify, listing):
        assert "Traceback" not in result.stderr, result.stderr

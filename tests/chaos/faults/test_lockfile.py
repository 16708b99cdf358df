"""server.lock left behind: a dead owner's lock is recovered at start-up, a live owner's is respected."""

from __future__ import annotations

import pytest

from chaos.target.client import until_serving
from chaos.target.live.orchestrator import HttpOrchestrator
from orchestrator.lockfile import read_owner

pytestmark = pytest.mark.live


async def test_a_stale_lock_is_recovered_at_start_up(tmp_path, fault):
    orchestrator = HttpOrchestrator(tmp_path / "base")
    stale = await fault("stale_lock", orchestrator.fault_context())
    dead = stale.injection.details["pid"]
    assert not stale.injection.details["pid_alive"]
    try:
        await orchestrator.start()
        async with orchestrator.client(mode="legacy") as client:
            await until_serving(client)
            assert read_owner(orchestrator.paths.lock_file) == orchestrator.pid
            assert f"recovered stale lock {orchestrator.paths.lock_file} left by pid {dead}" in (
                orchestrator.paths.log_file.read_text()
            )
    finally:
        await orchestrator.stop()


async def test_a_lock_held_by_a_live_orchestrator_is_respected(tmp_path, fault):
    orchestrator = HttpOrchestrator(tmp_path / "base")
    held = await fault("stale_lock", orchestrator.fault_context(), owner="live")
    owner = held.injection.details["pid"]
    assert held.injection.details["pid_alive"]
    with pytest.raises(RuntimeError, match=f"held by running orchestrator pid {owner}"):
        await orchestrator.start()
    await orchestrator.stop()
    assert read_owner(orchestrator.paths.lock_file) == owner, "the live owner's lock is untouched"
    await held.undo()
    assert not orchestrator.paths.lock_file.exists()
    try:
        await orchestrator.start()
        async with orchestrator.client(mode="legacy") as client:
            await until_serving(client)
    finally:
        await orchestrator.stop()

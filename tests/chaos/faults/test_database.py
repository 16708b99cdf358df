"""Database faults for real: another process's exclusive lock (SQLITE_BUSY), and damaged pages."""

from __future__ import annotations

import hashlib

import anyio
import pytest

from chaos.target.client import call
from tests.chaos.faults.support import live

pytestmark = pytest.mark.live


async def test_a_held_lock_blocks_a_graceful_restart_with_restart_003(tmp_path, fault):
    async with live(tmp_path) as o:
        lock = await fault("db_lock", o.ctx, hold_s=120)
        assert lock.injection.details["probe"] == "SQLITE_BUSY"
        prepare = await call(o.client, "orchestrator_shutdown_prepare")
        assert not prepare["ready_for_shutdown"] and prepare["checks"]["database"]["transactions_pending"] >= 1, prepare
        refused = await o.restart()
        assert (refused["success"], refused["error_code"]) == (False, "RESTART_003"), refused
        assert any(issue in refused["error"] for issue in prepare["blocking_issues"]), (refused, prepare)
        await lock.undo()
        assert (await call(o.client, "orchestrator_shutdown_prepare"))["ready_for_shutdown"]
        healed = await o.restart()
        assert healed["success"], healed


async def test_a_lock_that_outlasts_the_timeout_mid_restart_gives_restart_008(tmp_path, fault):
    async with live(tmp_path) as o:
        outcome = {}

        async def restart() -> None:
            outcome.update(await o.restart(timeout=10))

        async with anyio.create_task_group() as group:
            group.start_soon(restart)
            lock = await fault("db_lock", o.ctx, hold_s=120, at_phase="maintenance_mode")
        assert lock.injection.details["phase"] == "maintenance_mode"
        assert (await o.status())["maintenance_mode"] is False
        assert (outcome["success"], outcome["error_code"]) == (False, "RESTART_008"), (outcome["error_code"], outcome["errors"])
        assert "locked" in outcome["error"], outcome
        await lock.undo()
        healed = await o.restart()
        assert healed["success"], healed


async def test_damaged_pages_show_in_the_health_check_and_fail_the_restart_with_restart_008(tmp_path, fault):
    async with live(tmp_path) as o:
        await o.plan("written before the damage")
        serving = (await o.health())["worker_pid"]
        damage = await fault("db_corruption", o.ctx, object="idempotency")
        database = o.orchestrator.paths.database

        health = await o.health()
        assert health["checks"]["database"]["status"] == "corrupted", health["checks"]["database"]
        assert not health["healthy"] and not health["checks"]["database"]["integrity_check"]["ok"]
        before = hashlib.sha256(database.read_bytes()).hexdigest()
        failed = await o.restart()
        assert (failed["success"], failed["error_code"]) == (False, "RESTART_008"), failed
        assert "integrity" in failed["error"], failed
        assert hashlib.sha256(database.read_bytes()).hexdigest() == before, "a failed restart leaves the database untouched"
        assert (await o.health())["worker_pid"] == serving

        await damage.undo()
        assert (await o.health())["checks"]["database"]["status"] == "healthy"
        healed = await o.restart()
        assert healed["success"], healed

"""Worker processes killed for real, and replacements that fail: recovery, RESTART_006, nothing lost."""

from __future__ import annotations

import json

import anyio
import pytest

from chaos.target.client import call
from chaos.waiting import wait_until
from tests.chaos.faults.support import Live, live

pytestmark = pytest.mark.live

RECOVERY_S = 10.0


async def serving_again(o: Live, dead: int) -> dict:
    """Wait, without sending any task request, until a new worker serves."""

    async def healthy() -> dict | None:
        health = await o.health()
        return health if health["healthy"] and health["worker_pid"] not in (None, dead) else None

    return await wait_until(healthy, RECOVERY_S, "a new worker serving after the crash", interval_s=0.2)


async def test_a_killed_worker_is_replaced_and_nothing_acknowledged_is_lost(tmp_path, fault):
    async with live(tmp_path) as o:
        assert (await o.restart())["success"]
        acknowledged = await o.plan("acknowledged before the crash")
        crash = await fault("worker_crash", o.ctx)
        dead = crash.injection.details["worker_pid"]
        right_after = await o.plan("sent right after the crash")  # held, then answered by the replacement
        await serving_again(o, dead)
        assert acknowledged | right_after <= await o.task_ids()
        assert (await o.health())["state_restore"]["used"] == "current_state.json"
        history = (await call(o.client, "orchestrator_restart_status", {"include_history": True}))["history"]
        newest = history["recent_restarts"][0]
        assert (newest["reason"], newest["success"]) == ("error_recovery", True), history
        assert (await o.restart())["success"]


async def test_the_serving_worker_killed_mid_restart_is_replaced_without_waiting_for_a_request(tmp_path, fault):
    async with live(tmp_path) as o:
        acknowledged = await o.plan("acknowledged before the crash")
        outcome = {}

        async def restart() -> None:
            outcome.update(await o.restart(timeout=30))

        async with anyio.create_task_group() as group:
            group.start_soon(restart)
            crash = await fault("worker_crash", o.ctx, at_phase="maintenance_mode")
        await serving_again(o, crash.injection.details["worker_pid"])
        assert acknowledged <= await o.task_ids()


async def test_a_replacement_that_fails_is_retried_then_restart_006_and_the_old_worker_keeps_serving(tmp_path, fault):
    """One confined orchestrator, each way of failing in turn; after each, heal and a restart succeeds.
    First, one replacement killed as it starts is retried and the restart completes."""
    async with live(tmp_path, confine=True, extra_args=["--worker-start-timeout", "5"]) as o:
        outcome = {}

        async def restart() -> None:
            outcome.update(await o.restart(timeout=30))

        async with anyio.create_task_group() as group:
            group.start_soon(restart)
            crash = await fault("worker_crash", o.ctx, which="replacement", at_phase="maintenance_mode")
        assert outcome["success"], json.dumps(outcome)[:2000]
        assert any("attempt 1 failed" in error for error in outcome["errors"]), outcome["errors"]
        assert outcome["new_worker_pid"] != crash.injection.details["worker_pid"]

        for mode in ("crashes_at_start", "never_healthy", "cannot_start"):
            serving = (await o.health())["worker_pid"]
            failing = await fault("replacement_fails", o.ctx, mode=mode)
            assert failing.injection.real, (mode, failing.injection)
            failed = await o.restart(timeout=30)
            assert (failed["success"], failed["error_code"]) == (False, "RESTART_006"), (mode, failed)
            assert "failed to start 2 times" in failed["error"], (mode, failed)
            assert (await o.health())["worker_pid"] == serving, (mode, "served from the last good state")
            assert await o.plan(f"served after {mode}"), mode
            await failing.undo()
            if mode != "cannot_start":
                assert len(failing.injection.details["victims"]) == 2, (mode, failing.injection.details)
            healed = await o.restart(timeout=60)  # a loaded machine takes seconds to start a worker
            assert healed["success"], (mode, json.dumps(healed)[:1500])

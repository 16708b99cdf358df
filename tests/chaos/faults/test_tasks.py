"""Hung tasks for real: a job that ignores suspension, a frozen worker: RESTART_004, rollback, recovery."""

from __future__ import annotations

import anyio
import pytest

from tests.chaos.faults.support import live

pytestmark = pytest.mark.live


async def test_a_job_ignoring_suspension_times_out_with_restart_004_and_a_larger_timeout_succeeds(tmp_path, fault):
    async with live(tmp_path, faultpoints=True) as o:  # the hang switch exists only with fault injection on
        serving = (await o.health())["worker_pid"]
        hung = await fault("hung_task", o.ctx, ignore_suspend_s=9)
        task_id = hung.injection.details["task_id"]

        failed = await o.restart(timeout=10)
        assert (failed["success"], failed["error_code"]) == (False, "RESTART_004"), failed
        assert "did not suspend" in failed["error"] and task_id in failed["error"], failed
        assert failed["duration"] >= 9.5, failed
        assert (await o.health())["worker_pid"] == serving, "rolled back: the old worker serves again"
        job = await o.job(task_id)
        assert job["status"] == "running", job
        assert (await o.status())["maintenance_mode"] is False

        patient = await o.restart(timeout=30)
        assert patient["success"], patient
        assert patient["duration"] >= 9, "the job complied only after ignoring the request for 9 s"
        assert (await o.job(task_id))["progress"] >= job["progress"], "resumed from its checkpoint"


async def test_a_frozen_worker_times_out_with_restart_004_and_an_emergency_restart_recovers(tmp_path, fault):
    async with live(tmp_path) as o:
        tasks = await o.plan("acknowledged before the freeze")
        outcome = {}

        async def restart() -> None:
            outcome.update(await o.restart(timeout=10))

        async with anyio.create_task_group() as group:
            group.start_soon(restart)
            frozen = await fault("hung_task", o.ctx, how="sigstop", at_phase="maintenance_mode")
        assert frozen.injection.details["process_state"] == "T"
        assert (outcome["success"], outcome["error_code"]) == (False, "RESTART_004"), outcome
        assert (await o.status())["maintenance_mode"] is False

        emergency = await o.restart(graceful=False, preserve_state=False, reason="emergency_shutdown")
        assert emergency["success"], emergency
        assert emergency["old_worker_pid"] == frozen.injection.details["worker_pid"]
        assert tasks <= await o.task_ids(), "an emergency restart loses nothing stored"
        await frozen.undo()
        assert (await o.restart())["success"]

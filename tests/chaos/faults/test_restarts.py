"""A restart while one runs: RESTART_002 and the first completes; an emergency one pre-empts a stuck one."""

from __future__ import annotations

import anyio
import pytest

from chaos.waiting import wait_until
from tests.chaos.faults.support import live

pytestmark = pytest.mark.live

STUCK_AFTER_S = 2


async def test_a_second_restart_gets_restart_002_and_an_emergency_one_pre_empts_a_stuck_restart(tmp_path, fault):
    async with live(tmp_path, extra_args=["--stuck-after", str(STUCK_AFTER_S)]) as o:
        first: dict = {}

        async def restart(into: dict, timeout: int) -> None:
            into.update(await o.restart(timeout=timeout))

        async with anyio.create_task_group() as group:
            group.start_soon(restart, first, 30)
            second = await fault("restart_in_progress", o.ctx)
        refused = second.injection.details["response"]
        assert (refused["success"], refused["error_code"]) == (False, "RESTART_002"), refused
        assert refused["duration"] < 1, "refused at once"
        assert first["success"], first

        tasks = await o.plan("acknowledged before the stuck restart")
        stuck: dict = {}
        async with anyio.create_task_group() as group:
            group.start_soon(restart, stuck, 120)
            frozen = await fault("hung_task", o.ctx, how="sigstop", at_phase="maintenance_mode")
            early = await fault("restart_in_progress", o.ctx, graceful=False, at_phase="suspending_tasks")
            assert early.injection.details["response"]["error_code"] == "RESTART_002", "not stuck long enough yet"

            async def stuck_long_enough() -> bool:
                status = await o.status()
                return status["phase"] == "suspending_tasks" and status["seconds_in_phase"] >= STUCK_AFTER_S

            await wait_until(stuck_long_enough, 30, "the restart to be stuck in suspending_tasks")
            emergency = await fault(
                "restart_in_progress", o.ctx, graceful=False, preserve_state=False, reason="emergency_shutdown",
                at_phase="suspending_tasks",
            )  # fmt: skip
        assert (stuck["success"], stuck["error_code"]) == (False, "RESTART_002"), stuck
        assert "pre-empted" in stuck["error"], stuck
        answer = emergency.injection.details["response"]
        assert answer["success"] and answer["old_worker_pid"] == frozen.injection.details["worker_pid"], answer
        assert tasks <= await o.task_ids()
        await frozen.undo()
        assert (await o.restart())["success"]

"""Client faults for real: a dropped HTTP client, and a flood of requests during a restart."""

from __future__ import annotations

import anyio
import pytest

from chaos.faults.clients import until_holding
from chaos.target.client import call
from chaos.waiting import wait_until
from tests.chaos.faults.support import live

pytestmark = pytest.mark.live

GRACE_S = 8
SLOW_TO_SUSPEND = {"duration_s": 600, "checkpoint_interval_s": 0.2, "ignore_suspend": True, "ignore_suspend_s": 3}


async def test_a_client_dropped_mid_request_gets_its_session_back_and_others_are_unaffected(tmp_path, fault):
    async with live(tmp_path, faultpoints=True, extra_args=["--grace-period", str(GRACE_S)]) as o:  # the hang switch
        late = await fault("dropped_client", o.ctx, mid_request=False)  # comes back after the grace period
        session = late.injection.details["session_id"]
        await o.start_job(**SLOW_TO_SUSPEND)  # holds the restart's hand-over (requests held) for 3 s
        outcome: dict = {}
        others: list = []

        async def restart() -> None:
            outcome.update(await o.restart(timeout=30))

        async def other_client_request() -> None:
            await until_holding(o.ctx.call_tool)
            others.append(await call(o.client, "orchestrator_get_status"))

        async with anyio.create_task_group() as group:
            group.start_soon(restart)
            group.start_soon(other_client_request)
            dropped = await fault("dropped_client", o.ctx)
        assert dropped.injection.details["mid_request"]
        assert outcome["success"], outcome
        assert "live_jobs" in others[0], others

        await dropped.undo()
        back = dropped.injection.details["reconnect"]
        assert back["http_status"] == 200 and "live_jobs" in back["answer"], back
        stats = (await call(o.client, "orchestrator_reconnect_test"))["results"]["reconnection_stats"]
        assert stats["successful_reconnections"] >= 1, stats

        async def expired() -> bool:
            sessions = (await o.health())["checks"]["connections"]["sessions"]
            return all(s["session_id"] != session for s in sessions)

        await wait_until(expired, GRACE_S * 3, "the dropped session to expire after the grace period", interval_s=0.5)
        await late.undo()
        assert late.injection.details["reconnect"]["http_status"] == 404, late.injection.details["reconnect"]
        stats = (await call(o.client, "orchestrator_reconnect_test"))["results"]["reconnection_stats"]
        assert stats["failed_reconnections"] >= 1, stats


async def test_a_request_flood_during_a_restart_gets_restart_007_for_the_excess_only(tmp_path, fault):
    async with live(tmp_path, faultpoints=True, extra_args=["--buffer-per-session", "3", "--buffer-total", "50"]) as o:
        await o.start_job(**SLOW_TO_SUSPEND)  # holds the restart's hand-over (requests held) for 3 s
        outcome: dict = {}
        others: list = []

        async def restart() -> None:
            outcome.update(await o.restart(timeout=30))

        async def other_client_requests() -> None:
            await until_holding(o.ctx.call_tool)
            async with anyio.create_task_group() as group:
                for _ in range(2):
                    group.start_soon(lambda: _append(others, call(o.client, "orchestrator_get_status")))

        async with anyio.create_task_group() as group:
            group.start_soon(restart)
            group.start_soon(other_client_requests)
            flood = await fault("request_flood", o.ctx, requests=8)
        details = flood.injection.details
        assert (details["answered"], details["refused_restart_007"], details["other_errors"]) == (3, 5, []), details
        assert "buffer full" in details["refusal"]["error"], details["refusal"]
        assert outcome["success"], outcome
        assert len(others) == 2 and all("error_code" not in answer for answer in others), others
        assert (await o.health())["checks"]["connections"]["buffer"]["overflows"] == 5


async def _append(into: list, awaitable) -> None:
    into.append(await awaitable)

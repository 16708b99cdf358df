"""The request buffer (FIFO per session, bounded) and the phase tracker (monotonic, never sticks)."""

from __future__ import annotations

import anyio
import pytest

from orchestrator.errors import ErrorCode, RestartFailure
from orchestrator.supervisor.buffer import RequestBuffer
from orchestrator.supervisor.phases import PHASES, PhaseTracker


async def test_requests_pass_straight_through_while_open():
    buffer = RequestBuffer(per_session_limit=2, total_limit=4)
    assert await buffer.wait_turn("a") is None


async def test_held_requests_leave_in_arrival_order_per_session():
    buffer = RequestBuffer(per_session_limit=10, total_limit=10)
    buffer.close()
    served: list[int] = []

    async def request(index: int, queued: anyio.Event) -> None:
        turn_task = buffer.wait_turn("s")
        queued.set()
        waiter = await turn_task
        served.append(index)
        await anyio.lowlevel.checkpoint()
        buffer.release(waiter)

    async with anyio.create_task_group() as group:
        for index in range(5):
            queued = anyio.Event()
            group.start_soon(request, index, queued)
            await queued.wait()
            await anyio.wait_all_tasks_blocked()
        assert buffer.status()["total_buffered_requests"] == 5 and served == []
        buffer.open()
    assert served == [0, 1, 2, 3, 4]


async def test_past_the_bound_only_the_excess_is_refused_with_restart_007():
    buffer = RequestBuffer(per_session_limit=2, total_limit=3)
    buffer.close()
    outcomes: dict[str, list] = {"ok": [], "refused": []}

    async def request(session: str) -> None:
        try:
            waiter = await buffer.wait_turn(session)
        except RestartFailure as failure:
            outcomes["refused"].append((session, failure.error))
            return
        outcomes["ok"].append(session)
        buffer.release(waiter)

    async with anyio.create_task_group() as group:
        for session in ("a", "a", "a", "b", "b"):
            group.start_soon(request, session)
            await anyio.wait_all_tasks_blocked()
        buffer.open()
    assert sorted(outcomes["ok"]) == ["a", "a", "b"]
    assert outcomes["refused"] == [("a", ErrorCode.CONNECTION_MANAGER_ERROR), ("b", ErrorCode.CONNECTION_MANAGER_ERROR)]
    assert buffer.overflows == 2


async def test_clear_answers_every_held_request_with_restart_007():
    buffer = RequestBuffer(per_session_limit=5, total_limit=5)
    buffer.close()
    errors: list[str] = []

    async def request() -> None:
        with pytest.raises(RestartFailure) as failure:
            await buffer.wait_turn("s")
        errors.append(failure.value.error.code)

    async with anyio.create_task_group() as group:
        for _ in range(3):
            group.start_soon(request)
        await anyio.wait_all_tasks_blocked()
        assert buffer.clear("cleared by error_recovery") == 3
    assert errors == ["RESTART_007"] * 3 and buffer.total() == 0


def test_phases_move_forward_and_maintenance_ends_with_the_restart():
    tracker = PhaseTracker()
    tracker.begin(expected_duration_s=1.0)
    assert tracker.maintenance_mode and tracker.running
    seen = [tracker.progress]
    for phase in PHASES[2:-1]:
        tracker.enter(phase, phase)
        seen.append(tracker.progress)
    assert seen == sorted(seen) and len(set(seen)) == len(seen)
    with pytest.raises(ValueError):
        tracker.enter("suspending_tasks", "backwards")
    tracker.finish(False, "failed on purpose")
    assert tracker.phase == "failed" and not tracker.maintenance_mode and not tracker.running


def test_every_error_code_is_defined_once_with_cause_and_solution():
    codes = [member.code for member in ErrorCode]
    assert codes == [f"RESTART_00{i}" for i in range(1, 9)]
    for member in ErrorCode:
        assert member.value.cause and member.value.solution
        assert ErrorCode.by_code(member.code) is member

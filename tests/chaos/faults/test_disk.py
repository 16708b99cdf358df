"""Disk faults for real (tmpfs in a private mount namespace): RESTART_005, rollback, snapshot intact."""

from __future__ import annotations

import pytest

from chaos.faults import FaultError, create
from chaos.waiting import wait_until
from tests.chaos.faults.support import live

pytestmark = pytest.mark.live

UNWRITABLE_STATE = [
    ("disk_full", {"target": "state_dir"}, "No space left on device"),
    ("disk_full", {"target": "both"}, "No space left on device"),
    ("read_only", {}, "Read-only file system"),
    ("permission_denied", {}, "Permission denied"),
]


async def test_unwritable_state_gives_restart_005_rollback_and_an_intact_snapshot(tmp_path, fault):
    """One confined orchestrator, each fault in turn: injected, failing restart, healed, restart succeeds."""
    async with live(tmp_path, confine=True) as o:
        assert (await o.restart())["success"]
        for name, params, errno_text in UNWRITABLE_STATE:
            case = f"{name} {params}"
            snapshot_before = o.orchestrator.paths.current_state.read_bytes()
            serving = (await o.health())["worker_pid"]
            injected = await fault(name, o.ctx, **params)
            assert injected.injection.real, (case, injected.injection)

            failed = await o.restart()
            assert (failed["success"], failed["error_code"]) == (False, "RESTART_005"), (case, failed)
            assert errno_text in failed["error"], (case, "the worker itself must have hit the errno", failed)
            assert o.orchestrator.paths.current_state.read_bytes() == snapshot_before, case
            status = await o.status()
            assert (status["phase"], status["maintenance_mode"]) == ("failed", False), (case, status)
            assert (await o.health())["worker_pid"] == serving, (case, "rolled back: the old worker serves again")
            if name == "read_only":
                without_state = await o.restart(preserve_state=False)
                assert without_state["success"], (case, "preserve_state=false must succeed", without_state)

            await injected.undo()
            healed = await o.restart()
            assert healed["success"], (case, healed)
            assert healed["restore_report"]["used"] == "current_state.json", (case, healed["restore_report"])


async def test_full_database_disk_never_makes_a_restart_lose_job_progress(tmp_path, fault):
    async with live(tmp_path, confine=True) as o:
        assert (await o.restart())["success"]
        snapshot_before = o.orchestrator.paths.current_state.read_bytes()
        task_id = await o.start_job(duration_s=60, checkpoint_interval_s=0.1)
        await wait_until(lambda: _progressed(o, task_id, 0.02), 30, "the job to make some progress")
        injected = await fault("disk_full", o.ctx, target="database")
        assert injected.injection.details["probe"] == {".task_orchestrator": "ENOSPC"}
        progress_at_fill = (await o.job(task_id))["progress"]
        progress = await wait_until(lambda: _progressed(o, task_id, progress_at_fill + 0.03), 30, "work after the fill")

        result = await o.restart()
        progress_after = (await o.job(task_id))["progress"]
        assert progress_after >= progress, f"the job's progress went back from {progress} to {progress_after}"
        # Saved in full (the WAL folded before the hand-over has room to be reused), or refused with
        # the snapshot untouched: never a restart that loses what the job did.
        if not result["success"]:
            assert result["error_code"] == "RESTART_005", result
            assert o.orchestrator.paths.current_state.read_bytes() == snapshot_before


async def _progressed(o, task_id: str, at_least: float) -> float | None:
    progress = (await o.job(task_id))["progress"]
    return progress if progress >= at_least else None


async def test_without_a_namespace_disk_faults_fall_back_to_fault_points_and_say_why(tmp_path, fault):
    """Unconfined: disk_full and permission_denied fall back to a fault point (RESTART_005); slow_io
    always uses one (RESTART_004 once a write outlasts the timeout). Each is healed, then a restart succeeds."""
    async with live(tmp_path, faultpoints=True) as o:
        with pytest.raises(FaultError, match="no fallback"):
            await create("disk_full", target="database").inject(o.ctx)
        full = await fault("disk_full", o.ctx, target="state_dir")
        denied = await fault("permission_denied", o.ctx)
        assert not full.injection.real and "private mount namespace" in full.injection.fallback_reason
        assert not denied.injection.real and "CAP_DAC_OVERRIDE" in denied.injection.fallback_reason
        assert "snapshot.write" in full.injection.mechanism
        failed = await o.restart()
        assert failed["error_code"] == "RESTART_005" and "fault point snapshot.write" in failed["error"], failed
        await denied.undo()
        await full.undo()
        assert not o.orchestrator.faultpoints.exists(), "healing removed every point it armed"

        serving = (await o.health())["worker_pid"]
        slow = await fault("slow_io", o.ctx, seconds=12)
        assert not slow.injection.real and "dm-delay" in slow.injection.fallback_reason
        timed_out = await o.restart(timeout=10)
        assert (timed_out["success"], timed_out["error_code"]) == (False, "RESTART_004"), timed_out
        assert timed_out["duration"] >= 10
        assert (await o.health())["worker_pid"] == serving
        await slow.undo()
        assert (await o.restart())["success"]

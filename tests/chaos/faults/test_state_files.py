"""Corrupted state files: restore from the newest valid backup, or from the database alone, and say so."""

from __future__ import annotations

import shutil
import typing

import pytest

from chaos.faults import FaultContext, create
from chaos.faults.state_files import Damage
from chaos.waiting import wait_until
from orchestrator import snapshot
from orchestrator.config import Paths
from tests.chaos.faults.support import Live, live

pytestmark = pytest.mark.live

REJECTION = {
    "missing": "file is missing",
    "empty": "file is empty",
    "truncate": "not valid JSON",
    "invalid_json": "not valid JSON",
    "garbage": "not valid JSON",
    "wrong_hash": "integrity_hash does not match",
    "wrong_version": "is not supported",
    "bit_flip": "",  # any reason: where the flipped bit lands decides which check catches it
}


async def crash_and_recover(o: Live) -> dict:
    """Kill the worker (a real crash); the supervisor's replacement restores state: return its report."""
    dead = (await create("worker_crash").inject(o.ctx)).details["worker_pid"]

    async def recovered() -> dict | None:
        health = await o.health()
        return health if health["worker_pid"] not in (None, dead) and health["state_restore"] else None

    return (await wait_until(recovered, 60, "a replacement worker after the crash"))["state_restore"]


async def test_a_corrupt_snapshot_is_restored_from_the_newest_valid_backup_or_the_database_alone(tmp_path, fault):
    async with live(tmp_path) as o:
        tasks = await o.plan("kept in the database")
        for _ in range(3):
            assert (await o.restart())["success"]
        files = o.orchestrator.paths
        backups = [path.name for path in snapshot.list_backups(files)]
        assert len(backups) == 2, backups

        damaged = await fault("corrupt_state", o.ctx, damage="garbage", backups=1)
        report = await crash_and_recover(o)
        assert (report["source"], report["used"]) == ("backup", backups[1]), report
        assert [r["file"] for r in report["rejected"]] == ["current_state.json", backups[0]], report
        await damaged.undo()

        everything = await fault("corrupt_state", o.ctx, damage="wrong_hash", backups="all")
        report = await crash_and_recover(o)
        assert (report["source"], report["used"]) == ("database_only", None), report
        assert "database alone" in report.get("note", ""), report
        assert len(report["rejected"]) == 3, report
        assert tasks <= await o.task_ids(), "the database alone still has every task"
        await everything.undo()

        healed = await o.restart()
        assert healed["success"], healed


@pytest.mark.parametrize("damage", typing.get_args(Damage))
async def test_every_kind_of_damage_is_rejected_by_restore_and_healing_puts_the_bytes_back(tmp_path, damage, snapshots):
    state = Paths(tmp_path / "copy")
    shutil.copytree(snapshots.state_dir, state.state_dir)
    ctx = FaultContext(paths=state, scratch=tmp_path, supervisor_pid=lambda: None, worker_pid=_no_worker)
    original = state.current_state.read_bytes()
    newest_backup = snapshot.list_backups(state)[0].name

    corrupt = create("corrupt_state", damage=damage, seed=7)
    async with corrupt.applied(ctx) as injection:
        assert injection.real and injection.details["files"][0]["file"] == "current_state.json"
        report = snapshot.load_latest(state)
        assert (report.source, report.used) == ("backup", newest_backup), report.summary()
        assert report.rejected[0]["file"] == "current_state.json"
        assert REJECTION[damage] in report.rejected[0]["reason"], report.rejected
    assert state.current_state.read_bytes() == original
    assert snapshot.load_latest(state).used == "current_state.json"


async def _no_worker() -> None:
    return None


@pytest.fixture(scope="module")
def snapshots(tmp_path_factory) -> Paths:
    """Real snapshot files (current and one backup) written by the orchestrator's own code."""
    paths = Paths(tmp_path_factory.mktemp("snapshots"))
    for reason in ("manual_request", "configuration_update"):
        document = snapshot.build_snapshot(
            restart_reason=reason,
            active_tasks=[],
            suspended_tasks=[{"task_id": "0" * 32, "progress": 0.25}],
            client_sessions=[],
            database_state={"file": "task_orchestrator.db"},
        )
        snapshot.write_snapshot(paths, document)
    return paths

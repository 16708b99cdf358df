"""The snapshot write's fault points act where they say: inside the temp file's write, and between its
fsync and its rename. Run in-process (a crash is the simulator's ProcessExit), on real files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chaos.faults import FaultContext, create
from orchestrator import faultpoints, snapshot
from orchestrator.config import Paths
from orchestrator.durable import WRITE_CHUNK, temp_name


def large_snapshot(megabytes: int) -> dict:
    """A snapshot of several MiB (its rows of tasks carry long text)."""
    row = ["x" * 1000]
    return snapshot.build_snapshot(
        restart_reason="manual_request",
        active_tasks=[],
        suspended_tasks=[],
        client_sessions=[],
        database_state={"file": "task_orchestrator.db"},
        tables={"tasks": {"columns": ["description"], "rows": [row] * (megabytes * 1050)}},
    )


@pytest.fixture
def armed(tmp_path: Path):
    """Arm a point as the harness does (through the fault), with workers ending in-process."""
    file = tmp_path / "faultpoints.json"
    ctx = FaultContext(Paths(tmp_path / "base"), tmp_path, lambda: None, None, faultpoints=file)  # type: ignore[arg-type]

    def arm(**params) -> None:
        fault = create("worker_crash", **params)
        fault._arm_self_kill(ctx)
        assert json.loads(file.read_text())[params["at_point"]]["action"] == "crash"

    with faultpoints.in_process(file):
        yield arm, Paths(tmp_path / "base")


def test_a_crash_mid_write_leaves_the_first_bytes_in_the_temp_file_and_current_state_untouched(armed):
    arm, paths = armed
    snapshot.write_snapshot(paths, large_snapshot(1))
    before = paths.current_state.read_bytes()
    arm(at_point="snapshot.mid_write", after_bytes=WRITE_CHUNK)
    document = large_snapshot(3)
    with pytest.raises(faultpoints.ProcessExit):
        snapshot.write_snapshot(paths, document)
    assert paths.current_state.read_bytes() == before
    left = temp_name(paths.current_state).read_bytes()
    assert len(left) == WRITE_CHUNK < len(snapshot.render(document))  # the crash came in the middle of the write
    assert snapshot.render(document).startswith(left)


def test_a_crash_before_the_rename_leaves_the_complete_new_snapshot_beside_the_old_one(armed):
    arm, paths = armed
    snapshot.write_snapshot(paths, large_snapshot(1))
    before = paths.current_state.read_bytes()
    arm(at_point="snapshot.before_rename")
    document = large_snapshot(2)
    with pytest.raises(faultpoints.ProcessExit):
        snapshot.write_snapshot(paths, document)
    assert paths.current_state.read_bytes() == before
    assert temp_name(paths.current_state).read_bytes() == snapshot.render(document)
    assert snapshot.list_backups(paths) == []  # nothing after the point ran


def test_at_point_is_only_for_the_serving_workers_own_write():
    with pytest.raises(ValueError, match="at_point acts in the serving worker"):
        create("worker_crash", at_point="snapshot.before_rename", at_phase="serializing_state")
    with pytest.raises(ValueError, match="after_bytes needs at_point snapshot.mid_write"):
        create("worker_crash", at_point="snapshot.before_rename", after_bytes=10)

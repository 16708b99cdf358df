"""Healing is guaranteed: after a failure, a Ctrl-C or a crashed harness, nothing of the run is left."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import anyio
import pytest

from chaos.faults import FaultContext, create
from chaos.host.namespace import mounts
from chaos.host.ownership import MOUNT_SOURCE_PREFIX, leftovers, owned_env
from chaos.waiting import wait_until
from orchestrator import snapshot
from orchestrator.config import Paths

pytestmark = pytest.mark.live

CLEAN_WITHIN_S = 20.0


async def test_a_failure_inside_a_fault_still_heals_it(tmp_path):
    paths = Paths(tmp_path)
    document = snapshot.build_snapshot(
        restart_reason="manual_request", active_tasks=[], suspended_tasks=[], client_sessions=[], database_state={}
    )
    snapshot.write_snapshot(paths, document)
    original = paths.current_state.read_bytes()
    ctx = FaultContext(paths=paths, scratch=tmp_path, supervisor_pid=lambda: None, worker_pid=_no_worker)
    corrupt = create("corrupt_state", damage="missing")
    with pytest.raises(RuntimeError, match="the test failed"):
        async with corrupt.applied(ctx):
            assert not paths.current_state.exists()
            raise RuntimeError("the test failed")
    assert paths.current_state.read_bytes() == original
    assert corrupt.injection.healed_at is not None


async def _no_worker() -> None:
    return None


@pytest.mark.parametrize("how", [signal.SIGINT, signal.SIGKILL], ids=["ctrl-c", "crashed-run"])
async def test_an_interrupted_or_crashed_run_leaves_no_process_mount_or_armed_fault(tmp_path, how):
    base = tmp_path / "base"
    run = subprocess.Popen(
        [sys.executable, "-m", "tests.chaos.faults.crashable_run", str(base)],
        stdout=subprocess.PIPE,
        env=owned_env(),
        cwd=Path(__file__).parents[3],
    )
    assert run.stdout is not None
    with anyio.fail_after(90):
        line = (await anyio.to_thread.run_sync(run.stdout.readline)).decode().split()
    assert line[2:] == ["injected"], line
    run_id, supervisor = line[0], int(line[1])
    ours = [m for m in mounts(supervisor) if m.source.startswith(MOUNT_SOURCE_PREFIX)]
    assert len(ours) == 2 and any(m.read_only for m in ours), "the faults really hold mounts while the run lives"
    assert len(leftovers(run_id)) >= 4, "supervisor, worker, lock holder, watchdog and watcher are alive"

    run.send_signal(how)
    await anyio.to_thread.run_sync(run.wait)
    await wait_until(lambda: not leftovers(run_id), CLEAN_WITHIN_S, f"nothing of run {run_id} to be left")
    host_mounts = Path("/proc/self/mountinfo").read_text()
    assert f" {MOUNT_SOURCE_PREFIX}" not in host_mounts
    if how == signal.SIGINT:
        assert run.returncode != 0
        assert not (base / ".chaos" / "faultpoints.json").exists(), "Ctrl-C disarmed the fault point"

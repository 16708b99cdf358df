"""What a snapshot holds, served by a real orchestrator after a rebuild or a restore (issue 20)."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

from chaos.target.client import call
from chaos.target.live.orchestrator import http_orchestrator
from chaos.waiting import wait_until
from orchestrator import snapshot
from orchestrator.config import Paths
from tests.orchestrator.integration.helpers import all_tasks, health, plan, ready

pytestmark = pytest.mark.live


def overwrite_with_garbage(database: Path) -> None:
    for suffix in ("-wal", "-shm"):
        Path(f"{database}{suffix}").unlink(missing_ok=True)
    database.write_bytes(random.Random(1).randbytes(64 * 1024))


@pytest.mark.parametrize("damage", ["deleted", "garbage"])
async def test_after_a_restart_a_lost_database_is_served_again_from_the_snapshot(base_dir, damage):
    async with http_orchestrator(base_dir) as orchestrator, orchestrator.client() as client:
        await ready(client)
        kept = {(await plan(client, f"kept {i}", subtasks=2))["parent_task"]["id"] for i in range(3)}
        assert (await call(client, "orchestrator_restart_server", {}))["success"]
        at_restart = {t["id"] for t in await all_tasks(client)}
        late = (await plan(client, "after the restart"))["parent_task"]["id"]
    paths = Paths(base_dir)
    if damage == "deleted":
        for suffix in ("", "-wal", "-shm"):
            Path(f"{paths.database}{suffix}").unlink(missing_ok=True)
    else:
        overwrite_with_garbage(paths.database)

    async with http_orchestrator(base_dir) as orchestrator, orchestrator.client() as client:
        await orchestrator_serving(client)
        served = {t["id"] for t in await all_tasks(client)}
        checked = await health(client)

    assert kept <= served and served == at_restart and late not in served
    rebuild = checked["state_restore"]["rebuild"]
    assert rebuild["rebuilt"] is True and rebuild["snapshot"] == "current_state.json", rebuild
    assert checked["healthy"] is False and any("rebuilt from current_state.json" in p for p in checked["problems"])
    if damage == "garbage":
        assert (paths.root / rebuild["damaged_database_kept_as"]).stat().st_size == 64 * 1024


async def orchestrator_serving(client) -> None:
    """The first worker serves (healthy or not: a rebuilt database is reported as a problem)."""

    async def serving() -> bool:
        return (await health(client))["state_restore"] is not None

    await wait_until(serving, 30, "the first worker to serve")


async def test_the_worker_still_serves_when_every_state_file_is_odd(base_dir):
    """A FIFO, a directory and a symlink to /dev/zero in place of the state files: served from the database."""
    async with http_orchestrator(base_dir) as orchestrator, orchestrator.client() as client:
        await ready(client)
        task = (await plan(client, "in the database"))["parent_task"]["id"]
        for _ in range(2):
            assert (await call(client, "orchestrator_restart_server", {}))["success"]
    paths = Paths(base_dir)
    current, backup = paths.current_state, snapshot.list_backups(paths)[0]
    current.unlink()
    os.mkfifo(current)
    backup.unlink()
    backup.symlink_to("/dev/zero")
    async with http_orchestrator(base_dir) as orchestrator, orchestrator.client() as client:
        await ready(client)
        report = (await health(client))["state_restore"]
        assert task in {t["id"] for t in await all_tasks(client)}
    assert [r["reason"] for r in report["rejected"]] == [
        "is a FIFO, not a regular file", "is a symbolic link, not a regular file",
    ], report

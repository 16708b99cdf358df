"""The database rebuilt from the snapshot by itself: missing, empty, garbage or corrupt at start."""

from __future__ import annotations

import json
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mcp import Client

from orchestrator import snapshot, table_copy
from orchestrator.config import ConfigError, Paths
from orchestrator.worker import running_worker
from tests.orchestrator.unit.test_snapshot import CORRUPTIONS, NOT_REGULAR

JOB = {"kind": "builtin", "duration_s": 600, "checkpoint_interval_s": 0.05}


@asynccontextmanager
async def worker(
    base: Path, activate: str | None = "snapshot", window_s: float = table_copy.IDEMPOTENCY_WINDOW_S
) -> AsyncIterator[Client]:
    async with running_worker(Paths(base), False, window_s) as app, Client(app) as client:
        if activate is not None:
            await ok(client, "control_activate", mode=activate)
        yield client


async def ok(client: Client, tool: str, **arguments: Any) -> dict[str, Any]:
    result = await client.call_tool(tool, arguments)
    assert not result.is_error, result.content
    return result.structured_content


async def served_titles(client: Client) -> set[str]:
    page = await ok(client, "orchestrator_query_tasks", limit=500, include_archived=True)
    return {task["title"] for task in page["tasks"]}


async def hand_over(client: Client) -> None:
    """What a graceful restart asks of the old worker: suspend jobs, then write the snapshot."""
    suspended = (await ok(client, "control_suspend", deadline_s=10))["suspended"]
    await ok(
        client, "control_write_snapshot",
        restart_reason="manual_request", client_sessions=[], suspended_tasks=suspended, deadline_s=10,
    )


async def orchestrator_with_a_snapshot(base: Path) -> tuple[set[str], str]:
    """Tasks, a running job, a restart's snapshot, then one task planned after it (a write it lacks)."""
    async with worker(base) as client:
        plan = await ok(
            client, "orchestrator_plan_task", title="kept", description="in the snapshot",
            subtasks=[{"title": "job step", "specialist_role": "implementer", "job": JOB}, {"title": "plain step", "specialist_role": "tester"}],
        )
        await ok(client, "orchestrator_execute_subtask", task_id=plan["subtasks"][0]["id"])
        kept = await served_titles(client)
        await hand_over(client)
        late = await ok(client, "orchestrator_plan_task", title="after the snapshot", description="lost", subtasks=[{"title": "late step", "specialist_role": "tester"}])
    return kept, late["parent_task"]["id"]


def corrupt_index_page(database: Path, index: str = "tasks_status") -> None:
    """Overwrite the root page of an index with garbage: readable, failing its integrity check."""
    with sqlite3.connect(database) as conn:
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = ?", (index,)).fetchone()[0]
    with open(database, "r+b") as handle:
        handle.seek((root - 1) * page_size)
        handle.write(random.Random(7).randbytes(page_size))


def remove_database(database: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{database}{suffix}").unlink(missing_ok=True)


DAMAGE = {
    "missing": remove_database,
    "empty": lambda database: (remove_database(database), database.write_bytes(b"")),
    "garbage": lambda database: (remove_database(database), database.write_bytes(random.Random(3).randbytes(40_000))),
    "corrupt": corrupt_index_page,
}


@pytest.mark.parametrize("damage", DAMAGE)
async def test_a_damaged_database_is_rebuilt_from_the_snapshot_and_the_loss_is_reported(tmp_path, damage):
    kept, late_task = await orchestrator_with_a_snapshot(tmp_path)
    paths = Paths(tmp_path)
    DAMAGE[damage](paths.database)

    async with worker(tmp_path, activate=None) as client:
        activated = await ok(client, "control_activate", mode="snapshot")
        assert await served_titles(client) == kept, "the snapshot's tasks, and not the one planned after it"
        status = await ok(client, "orchestrator_get_status")
        integrity = await ok(client, "control_integrity_check")

    report = activated["restore_report"]
    rebuilt = report["rebuild"]
    assert rebuilt["rebuilt"] is True and report["used"] == "current_state.json", report
    assert rebuilt["reason"].startswith(f"database {'unreadable' if damage == 'garbage' else damage}")
    assert rebuilt["rows"]["tasks"] == len(kept) and rebuilt["rows"]["jobs"] == 1
    assert status["live_jobs"]["running"] == 1, "the job runs again from the rebuilt jobs table"
    assert integrity["ok"] is True
    lost = rebuilt["lost_writes"]
    assert lost["snapshot_timestamp"] == snapshot.verify_file(paths.current_state)["timestamp"]
    if damage == "corrupt":
        assert lost["listed"] is True and late_task in lost["tasks_created_after"], lost
        assert lost["counts"]["tasks_created_after"] == 2, "the late task and its subtask"
    else:
        assert lost["listed"] is False and "lost" in lost["reason"], lost
    kept_as = rebuilt["damaged_database_kept_as"]
    if damage == "missing":
        assert kept_as is None
    else:
        assert (paths.root / kept_as).exists(), "the damaged file is moved aside, never deleted"


async def test_a_missing_database_with_no_valid_snapshot_says_so_and_serves_empty(tmp_path):
    await orchestrator_with_a_snapshot(tmp_path)
    paths = Paths(tmp_path)
    remove_database(paths.database)
    for candidate in [paths.current_state, *snapshot.list_backups(paths)]:
        candidate.write_bytes(b"[" * 100_000)
    async with worker(tmp_path, activate=None) as client:
        report = (await ok(client, "control_activate", mode="snapshot"))["restore_report"]
        assert await served_titles(client) == set()
    assert report["rebuild"]["rebuilt"] is False and "database missing" in report["rebuild"]["reason"]
    assert all("nests deeper" in rejected["reason"] for rejected in report["rejected"]), report


async def test_a_first_start_is_not_a_rebuild(tmp_path):
    async with worker(tmp_path) as client:
        facts = await ok(client, "control_facts")
    assert "rebuild" not in facts["restore_report"], facts["restore_report"]


async def test_an_emergency_restart_on_a_corrupt_database_rebuilds_it_too(tmp_path):
    kept, _ = await orchestrator_with_a_snapshot(tmp_path)
    corrupt_index_page(Paths(tmp_path).database)
    async with worker(tmp_path, activate=None) as client:
        report = (await ok(client, "control_activate", mode="interrupted"))["restore_report"]
        assert await served_titles(client) == kept
        interrupted = await ok(client, "orchestrator_query_tasks", status="interrupted")
    assert report["rebuild"]["rebuilt"] is True and report["used"] == "current_state.json"
    assert interrupted["total"] == 1, "the job of the rebuilt database comes back interrupted, as after any emergency"


async def test_a_snapshot_whose_copy_does_not_build_is_skipped_for_the_next(tmp_path):
    await orchestrator_with_a_snapshot(tmp_path)
    async with worker(tmp_path) as client:
        await hand_over(client)  # the newest snapshot; the one before it becomes a backup
    paths = Paths(tmp_path)
    document = snapshot.verify_file(paths.current_state)
    document["tables"]["jobs"]["rows"][0][0] = "no such task"  # a foreign key the schema refuses
    document["integrity_hash"] = snapshot.integrity_hash(document)
    paths.current_state.write_bytes(snapshot.render(document))
    remove_database(paths.database)
    async with worker(tmp_path, activate=None) as client:
        report = (await ok(client, "control_activate", mode="snapshot"))["restore_report"]
    assert report["source"] == "backup" and report["rebuild"]["rebuilt"] is True, report
    assert report["rejected"][0]["file"] == "current_state.json"
    assert "cannot be rebuilt from" in report["rejected"][0]["reason"], report["rejected"]
    assert not list(paths.root.glob(".*.tmp*")), "no staged database is left behind"


# -- what a snapshot leaves out: archived tasks, idempotency keys past the window -------------------


def titles_in(database: Path, where: str) -> set[str]:
    with sqlite3.connect(f"{database.as_uri()}?mode=ro", uri=True) as conn:
        return {row[0] for row in conn.execute(f"SELECT title FROM tasks NOT INDEXED WHERE {where}")}


async def test_archived_tasks_are_left_out_of_the_snapshot_and_a_rebuild_says_the_kept_file_holds_them(tmp_path):
    async with worker(tmp_path) as client:
        await ok(client, "orchestrator_plan_task", title="live", description="", subtasks=[{"title": "live step", "specialist_role": "tester"}])
        done = await ok(client, "orchestrator_plan_task", title="done", description="", subtasks=[{"title": "done step", "specialist_role": "tester"}])
        await ok(client, "orchestrator_delete_task", task_id=done["parent_task"]["id"], archive=True)
        await hand_over(client)
    paths = Paths(tmp_path)
    copy = snapshot.verify_file(paths.current_state)
    assert {row[2] for row in copy["tables"]["tasks"]["rows"]} == {"live", "live step"}
    assert copy["database_state"]["copy"]["left_out"]["tasks"] == 2
    corrupt_index_page(paths.database)

    async with worker(tmp_path, activate=None) as client:
        rebuilt = (await ok(client, "control_activate", mode="snapshot"))["restore_report"]["rebuild"]
        assert await served_titles(client) == {"live", "live step"}, "every live task, no archived one"

    assert rebuilt["lost_writes"]["counts"]["tasks_created_after"] == 0, "archived is not written after"
    assert rebuilt["lost_writes"]["counts"]["archived_not_in_snapshot"] == 2
    assert rebuilt["not_in_snapshot"]["left_out"]["left_out"]["tasks"] == 2
    kept = rebuilt["damaged_database_kept_as"]
    assert kept in rebuilt["not_in_snapshot"]["note"], rebuilt["not_in_snapshot"]
    assert titles_in(paths.root / kept, "status = 'archived'") == {"done", "done step"}


async def test_a_replay_inside_the_idempotency_window_survives_a_rebuild_and_one_past_it_is_a_new_call(tmp_path):
    plan = {"title": "once", "description": "", "subtasks": [{"title": "step", "specialist_role": "tester"}]}
    async with worker(tmp_path) as client:
        recent = await ok(client, "orchestrator_plan_task", **plan, idempotency_key="recent")
        old = await ok(client, "orchestrator_plan_task", **plan, idempotency_key="old")
        with sqlite3.connect(Paths(tmp_path).database) as conn:
            conn.execute("UPDATE idempotency SET created_at = '2000-01-01T00:00:00.000000+00:00' WHERE key = 'old'")
        await hand_over(client)
    paths = Paths(tmp_path)
    copy = snapshot.verify_file(paths.current_state)
    assert [row[0] for row in copy["tables"]["idempotency"]["rows"]] == ["recent"], "only the window is copied"
    assert copy["database_state"]["copy"]["left_out"]["idempotency"] == 1
    remove_database(paths.database)

    async with worker(tmp_path) as client:
        replayed = await ok(client, "orchestrator_plan_task", **plan, idempotency_key="recent")
        again = await ok(client, "orchestrator_plan_task", **plan, idempotency_key="old")
    assert replayed == recent, "the first result, applied once"
    assert again["parent_task"]["id"] != old["parent_task"]["id"], "past the window, a replay is a new call"


async def test_a_worker_prunes_the_keys_past_the_window_when_it_activates(tmp_path):
    async with worker(tmp_path) as client:
        for key in ("first", "second", "third"):
            await ok(client, "orchestrator_plan_task", title=key, description="", subtasks=[{"title": "step", "specialist_role": "tester"}], idempotency_key=key)
    with sqlite3.connect(Paths(tmp_path).database) as conn:
        conn.execute("UPDATE idempotency SET created_at = '2000-01-01T00:00:00.000000+00:00' WHERE key = 'first'")
    async with worker(tmp_path, activate=None, window_s=3600) as client:
        report = (await ok(client, "control_activate", mode="snapshot"))["restore_report"]
    with sqlite3.connect(Paths(tmp_path).database) as conn:
        left = [row[0] for row in conn.execute("SELECT key FROM idempotency ORDER BY rowid")]
        since = table_copy.idempotency_since(3600)
        assert table_copy.dump_tables(conn, since, keep=1)[0]["idempotency"]["rows"][0][0] == "third", "the newest of the count"
    assert report["idempotency_keys_pruned"] == 1 and left == ["second", "third"]


@pytest.mark.parametrize("raw", ["0", "-5", "nan", "inf", "a day"])
def test_an_idempotency_window_that_is_not_a_positive_number_of_seconds_is_refused(raw):
    with pytest.raises(ConfigError, match=table_copy.IDEMPOTENCY_WINDOW_ENV):
        table_copy.resolve_idempotency_window(raw)
    assert table_copy.resolve_idempotency_window(None) == table_copy.resolve_idempotency_window(" ") == 24 * 3600
    assert table_copy.resolve_idempotency_window("2.5") == 2.5


@pytest.fixture(scope="module")
def three_snapshots(tmp_path_factory) -> Path:
    """An orchestrator's files after three hand-overs, the k-th snapshot holding tasks 'task 0'..'task k'."""
    base = tmp_path_factory.mktemp("three-snapshots")

    async def make() -> None:
        async with worker(base) as client:
            for index in range(3):
                await ok(client, "orchestrator_plan_task", title=f"task {index}", description="", subtasks=[{"title": f"step {index}", "specialist_role": "tester"}])
                await hand_over(client)

    anyio.run(make)
    return base


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
async def test_with_the_database_lost_any_corruption_of_the_state_files_leaves_the_newest_valid_one_served(data, three_snapshots):
    with tempfile.TemporaryDirectory() as directory:
        base = Path(directory) / "base"
        shutil.copytree(three_snapshots, base, symlinks=True)
        paths = Paths(base)
        remove_database(paths.database)
        candidates = [paths.current_state, *snapshot.list_backups(paths)]
        damaged = data.draw(st.lists(st.booleans(), min_size=3, max_size=3))
        for candidate, damage in zip(candidates, damaged, strict=True):
            if damage:
                corrupt(candidate, data.draw(st.sampled_from([*CORRUPTIONS, *NOT_REGULAR])), data.draw)
        async with worker(base, activate=None) as client:
            report = (await ok(client, "control_activate", mode="snapshot"))["restore_report"]
            titles = {title for title in await served_titles(client) if title.startswith("task")}
    newest_valid = damaged.index(False) if False in damaged else None
    if newest_valid is None:
        assert report["rebuild"]["rebuilt"] is False and titles == set(), report
    else:
        assert report["used"] == candidates[newest_valid].name, report
        assert titles == {f"task {index}" for index in range(3 - newest_valid)}, "the tasks of that snapshot"
    assert [r["file"] for r in report["rejected"]] == [c.name for c in candidates[: newest_valid if newest_valid is not None else 3]]


def corrupt(candidate: Path, kind: str, draw: Any) -> None:
    if kind in NOT_REGULAR:
        candidate.unlink()
        NOT_REGULAR[kind](candidate)
    else:
        candidate.write_bytes(CORRUPTIONS[kind](candidate.read_bytes(), draw))


# -- restore what the snapshot holds ---------------------------------------------------------------


async def test_a_graceful_restarts_job_resumes_from_the_snapshots_checkpoint_when_the_database_is_older(tmp_path):
    async with worker(tmp_path) as client:
        plan = await ok(client, "orchestrator_plan_task", title="job", description="", subtasks=[{"title": "step", "specialist_role": "implementer", "job": JOB}])
        task_id = plan["subtasks"][0]["id"]
        await ok(client, "orchestrator_execute_subtask", task_id=task_id)
        await wait_for_progress(client, 0.0005)
        await hand_over(client)
    [record] = snapshot.verify_file(Paths(tmp_path).current_state)["suspended_tasks"]
    with sqlite3.connect(Paths(tmp_path).database) as conn:  # the database's copy is older than the snapshot's
        conn.execute("UPDATE jobs SET progress = 0, checkpoint = ? WHERE task_id = ?", ('{"progress": 0, "saved_at": "2000-01-01T00:00:00+00:00"}', task_id))
    async with worker(tmp_path, activate=None) as client:
        report = (await ok(client, "control_activate", mode="snapshot"))["restore_report"]
        [live] = (await ok(client, "orchestrator_get_status"))["live_jobs"]["jobs"]
    assert live["progress"] >= record["progress"] > 0, "continued from the snapshot's checkpoint, not from 0"
    assert report["checkpoints"]["differed"] == [{"task_id": task_id, "progress": record["progress"], "database_progress": 0.0}]


async def wait_for_progress(client: Client, at_least: float) -> None:
    with anyio.fail_after(10):
        while not any(job["progress"] >= at_least for job in (await ok(client, "orchestrator_get_status"))["live_jobs"]["jobs"]):
            await anyio.sleep(0.02)


def test_state_restore_of_a_backup_makes_the_served_state_that_backups(three_snapshots, tmp_path):
    base = tmp_path / "base"
    shutil.copytree(three_snapshots, base, symlinks=True)
    paths = Paths(base)
    oldest = snapshot.list_backups(paths)[-1]
    restore = subprocess.run(
        [sys.executable, "-m", "orchestrator", "--base-dir", str(base), "--json", "state", "restore", "--backup", oldest.name],
        capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
    )
    assert restore.returncode == 0, restore.stderr
    differences = json.loads(restore.stdout)["differences_from_the_database"]
    assert differences["counts"]["tasks_created_after"] == 4, "tasks 1 and 2 and their subtasks"

    async def serve() -> tuple[dict, set[str]]:
        async with worker(base, activate=None) as client:
            report = (await ok(client, "control_activate", mode="snapshot"))["restore_report"]
            return report, {title for title in await served_titles(client) if title.startswith("task")}

    report, titles = anyio.run(serve)
    assert titles == {"task 0"}, "the state of the restored backup, not the database's"
    assert report["rebuild"]["reason"].startswith("database replaced") and report["used"] == "current_state.json"
    assert report["rebuild"]["lost_writes"]["counts"]["tasks_created_after"] == 4
    assert (paths.root / report["rebuild"]["damaged_database_kept_as"]).exists()
    assert not (paths.state_dir / "restore_request.json").exists(), "done once"
    assert "rebuild" not in anyio.run(serve)[0], "the next start serves the database as it is"


def test_state_rebuild_is_not_held_up_by_a_fifo_in_place_of_the_lock_file(three_snapshots, tmp_path):
    base = tmp_path / "base"
    shutil.copytree(three_snapshots, base, symlinks=True)
    os.mkfifo(Paths(base).lock_file)
    rebuilt = subprocess.run(
        [sys.executable, "-m", "orchestrator", "--base-dir", str(base), "state", "rebuild"],
        capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL,
    )
    assert rebuilt.returncode == 0 and "restored current_state.json" in rebuilt.stdout, rebuilt.stderr

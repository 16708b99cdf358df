"""JobRunner: real timed work that checkpoints, suspends, resumes where it stopped, or hangs on purpose."""

from __future__ import annotations

import sys
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import anyio
import pytest
from hypothesis import given
from hypothesis import strategies as st

from orchestrator import rows as db
from orchestrator.config import ALLOW_COMMAND_JOBS_ENV, Paths
from orchestrator.job_spec import JobSpecError, parse_job_spec
from orchestrator.jobs import JobError, JobRunner
from orchestrator.store import StoreBusyError, TaskStore


async def wait_until(predicate: Callable[[], Any], timeout: float = 10.0) -> Any:
    """Poll `predicate` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        await anyio.sleep(0.01)
    return value


@asynccontextmanager
async def job_runner(store: TaskStore) -> AsyncIterator[JobRunner]:
    async with anyio.create_task_group() as tg:
        runner = JobRunner(store, tg)
        try:
            yield runner
        finally:
            await runner.stop_all()


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.delenv(ALLOW_COMMAND_JOBS_ENV, raising=False)
    s = TaskStore(Paths(tmp_path).database)
    yield s
    s.close()


def new_task(store: TaskStore) -> str:
    return store.write(lambda conn: db.insert_task(conn, title="work", status="in_progress"))["id"]


def job_row(store: TaskStore, task_id: str) -> dict | None:
    return store.read(lambda conn: db.get_job(conn, task_id))


def task_row(store: TaskStore, task_id: str) -> dict:
    return store.read(lambda conn: db.get_task(conn, task_id))


def live(runner: JobRunner, task_id: str) -> dict | None:
    return next((job for job in runner.stats()["jobs"] if job["task_id"] == task_id), None)


def builtin(duration_s: float, interval_s: float = 0.05, **extra) -> dict:
    return {"kind": "builtin", "duration_s": duration_s, "checkpoint_interval_s": interval_s, **extra}


async def test_builtin_job_checkpoints_progress_then_completes(store):
    task_id = new_task(store)
    async with job_runner(store) as runner:
        await runner.start(task_id, builtin(1.0))
        midway = await wait_until(
            lambda: (row := job_row(store, task_id)) and 0 < row["progress"] < 1 and row
        )
        assert midway["status"] == "running"
        assert midway["checkpoint"]["progress"] == midway["progress"]
        done = await wait_until(lambda: (row := job_row(store, task_id))["status"] == "completed" and row)
        assert done["progress"] == 1.0
        task = task_row(store, task_id)
        assert task["status"] == "completed" and task["result"]["kind"] == "builtin"
        await wait_until(lambda: runner.stats()["jobs"] == [])  # leaves the live set just after the commit


async def test_suspend_all_stops_every_job_with_a_final_checkpoint(store):
    ids = [new_task(store), new_task(store)]
    async with job_runner(store) as runner:
        for task_id in ids:
            await runner.start(task_id, builtin(60, interval_s=30))  # no periodic checkpoint in this test
        await wait_until(lambda: all(live(runner, t)["progress"] > 0.001 for t in ids))
        report = await runner.suspend_all(deadline_s=5)
        assert report["hung"] == []
        assert sorted(r["task_id"] for r in report["suspended"]) == sorted(ids)
        for record in report["suspended"]:
            row = job_row(store, record["task_id"])
            assert row["status"] == "suspended"
            assert row["progress"] == record["progress"] == record["checkpoint"]["progress"] > 0
            assert record["checkpoint_saved"] is True
        stats = runner.stats()
        assert (stats["running"], stats["suspended"], stats["hung"]) == (0, 2, 0)


async def test_suspend_reports_a_checkpoint_the_database_refused(store, monkeypatch):
    task_id = new_task(store)
    async with job_runner(store) as runner:
        await runner.start(task_id, builtin(60, interval_s=30))

        def locked(fn):
            raise StoreBusyError("database is locked")

        monkeypatch.setattr(store, "write", locked)
        [record] = (await runner.suspend_all(deadline_s=5))["suspended"]
        monkeypatch.undo()
        assert record["checkpoint_saved"] is False
        assert job_row(store, task_id)["status"] == "running"  # the database kept its older checkpoint
        assert runner.stats()["suspended"] == 1


async def test_resume_from_continues_from_the_checkpoint_in_a_new_runner(store):
    task_id = new_task(store)
    async with job_runner(store) as first:
        await first.start(task_id, builtin(2.0))
        await wait_until(lambda: live(first, task_id)["progress"] >= 0.25)
        report = await first.suspend_all(deadline_s=5)
    [record] = report["suspended"]

    reopened = TaskStore(store.path)  # as a new process would
    try:
        async with job_runner(reopened) as second:
            assert await second.resume_from(report["suspended"]) == {"resumed": [task_id], "skipped": [], "differed": []}
            assert live(second, task_id)["progress"] >= record["progress"]
            resumed_at = job_row(reopened, task_id)["updated_at"]
            first_checkpoint = await wait_until(
                lambda: (row := job_row(reopened, task_id))["updated_at"] != resumed_at and row
            )
            assert first_checkpoint["progress"] >= record["progress"]  # continued, not restarted at 0
            await wait_until(lambda: task_row(reopened, task_id)["status"] == "completed")
    finally:
        reopened.close()


async def test_resume_all_undoes_a_suspension(store):
    task_id = new_task(store)
    async with job_runner(store) as runner:
        await runner.start(task_id, builtin(0.5))
        await runner.suspend_all(deadline_s=5)
        assert runner.stats()["suspended"] == 1
        assert await runner.resume_all() == {"resumed": [task_id]}
        assert job_row(store, task_id)["status"] == "running"
        await wait_until(lambda: task_row(store, task_id)["status"] == "completed")


async def test_resume_all_works_while_the_database_is_locked(store, monkeypatch):
    task_id = new_task(store)
    async with job_runner(store) as runner:
        await runner.start(task_id, builtin(60))
        await runner.suspend_all(deadline_s=5)

        def locked(fn):
            raise StoreBusyError("database is locked")

        monkeypatch.setattr(store, "write", locked)
        assert await runner.resume_all() == {"resumed": [task_id]}
        assert runner.stats()["running"] == 1
        monkeypatch.undo()
        await wait_until(lambda: job_row(store, task_id)["status"] == "running")  # a checkpoint caught up


async def test_ignore_suspend_job_is_reported_hung_and_keeps_advancing(store):
    stubborn, polite = new_task(store), new_task(store)
    async with job_runner(store) as runner:
        await runner.start(stubborn, builtin(60, ignore_suspend=True))
        await runner.start(polite, builtin(60))
        report = await runner.suspend_all(deadline_s=0.3)
        assert report["hung"] == [stubborn]
        assert [r["task_id"] for r in report["suspended"]] == [polite]
        stats = runner.stats()
        assert (stats["hung"], stats["suspended"], stats["ignore_suspend"]) == (1, 1, 1)
        before = live(runner, stubborn)["progress"]
        await wait_until(lambda: live(runner, stubborn)["progress"] > before + 0.005)
        await wait_until(lambda: job_row(store, stubborn)["progress"] > before)
        assert job_row(store, stubborn)["status"] == "running"


async def test_resume_from_database_after_the_process_stopped(store):
    task_id = new_task(store)
    async with job_runner(store) as first:
        await first.start(task_id, builtin(3.0))
        saved = await wait_until(
            lambda: (row := job_row(store, task_id))["progress"] > 0.05 and row["progress"]
        )
    assert job_row(store, task_id)["status"] == "running"  # stop_all leaves the database saying "running"
    async with job_runner(store) as second:
        assert await second.resume_from_database() == {"resumed": [task_id]}
        assert live(second, task_id)["progress"] >= saved


async def test_mark_interrupted_records_jobs_of_a_dead_process(store):
    task_id = new_task(store)
    async with job_runner(store) as first:
        await first.start(task_id, builtin(30))
    async with job_runner(store) as second:
        assert await second.mark_interrupted() == {"interrupted": [task_id], "pending": False}
        assert job_row(store, task_id)["status"] == "interrupted"
        assert task_row(store, task_id)["status"] == "interrupted"
        assert await second.resume_from_database() == {"resumed": []}


async def test_cancel_stops_the_job(store):
    task_id = new_task(store)
    async with job_runner(store) as runner:
        await runner.start(task_id, builtin(30))
        assert await runner.cancel(task_id) is True
        assert runner.stats()["jobs"] == []
        assert job_row(store, task_id)["status"] == "cancelled"
        assert task_row(store, task_id)["status"] == "in_progress"


async def test_a_job_stops_when_the_database_cancels_it(store):
    task_id = new_task(store)
    async with job_runner(store) as runner:
        await runner.start(task_id, builtin(30))
        store.write(lambda conn: db.update_job(conn, task_id, status="cancelled"))
        await wait_until(lambda: live(runner, task_id) is None)
        assert job_row(store, task_id)["status"] == "cancelled"


async def test_resume_from_skips_jobs_the_database_no_longer_wants(store):
    task_id = new_task(store)
    async with job_runner(store) as first:
        await first.start(task_id, builtin(30))
        report = await first.suspend_all(deadline_s=5)
    store.write(lambda conn: db.update_job(conn, task_id, status="cancelled"))
    async with job_runner(store) as second:
        result = await second.resume_from(report["suspended"])
        assert result == {"resumed": [], "skipped": [{"task_id": task_id, "reason": "job is cancelled"}], "differed": []}
        assert second.stats()["jobs"] == []


async def test_start_refuses_a_second_job_and_unknown_tasks(store):
    task_id = new_task(store)
    async with job_runner(store) as runner:
        await runner.start(task_id, builtin(30))
        with pytest.raises(JobError, match="already has a running job"):
            await runner.start(task_id, builtin(1))
        with pytest.raises(JobError, match="no task"):
            await runner.start("f" * 32, builtin(1))
        assert job_row(store, "f" * 32) is None


async def test_command_jobs_are_refused_by_default(store):
    task_id = new_task(store)
    async with job_runner(store) as runner:
        with pytest.raises(JobSpecError, match=ALLOW_COMMAND_JOBS_ENV):
            await runner.start(task_id, {"kind": "command", "argv": ["true"]})
    assert job_row(store, task_id) is None


async def test_command_job_runs_in_the_base_dir_when_allowed(store, tmp_path, monkeypatch):
    monkeypatch.setenv(ALLOW_COMMAND_JOBS_ENV, "1")
    ok, bad = new_task(store), new_task(store)
    async with job_runner(store) as runner:
        await runner.start(
            ok, {"kind": "command", "argv": [sys.executable, "-c", "import os; print(os.getcwd())"]}
        )
        await runner.start(bad, {"kind": "command", "argv": [sys.executable, "-c", "raise SystemExit(3)"]})
        await wait_until(lambda: task_row(store, ok)["status"] == "completed")
        await wait_until(lambda: task_row(store, bad)["status"] == "failed")
    assert task_row(store, ok)["result"]["output_tail"].strip() == str(tmp_path)
    assert task_row(store, bad)["result"]["exit_code"] == 3
    assert job_row(store, bad)["status"] == "failed"


async def test_command_job_is_terminated_on_suspend(store, monkeypatch):
    monkeypatch.setenv(ALLOW_COMMAND_JOBS_ENV, "1")
    task_id = new_task(store)
    async with job_runner(store) as runner:
        await runner.start(
            task_id, {"kind": "command", "argv": [sys.executable, "-c", "import time; time.sleep(60)"]}
        )
        report = await runner.suspend_all(deadline_s=10)
        assert report["hung"] == []
        assert report["suspended"][0]["progress"] == 0.0  # a command re-runs from the start
        assert job_row(store, task_id)["status"] == "suspended"


@given(
    duration=st.floats(min_value=1e-3, max_value=3600),
    interval=st.floats(min_value=1e-3, max_value=3600),
    ignore=st.booleans(),
)
def test_valid_builtin_specs_round_trip(duration, interval, ignore):
    spec = parse_job_spec(builtin(duration, interval, ignore_suspend=ignore))
    assert parse_job_spec(spec.to_dict()) == spec
    assert spec.duration_s == duration and spec.ignore_suspend is ignore


@given(
    duration=st.one_of(st.floats().filter(lambda d: not 0 < d <= 3600), st.text(), st.booleans(), st.none())
)
def test_invalid_durations_are_refused(duration):
    with pytest.raises(JobSpecError, match="duration_s"):
        parse_job_spec({"kind": "builtin", "duration_s": duration})

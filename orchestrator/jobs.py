"""Background jobs: server-side work attached to a task, which a restart must carry across.

A job advances in short ticks and writes its progress to the jobs table at a checkpoint
interval, so the database always knows how far it got. A restart asks every job to stop at
its next tick and write a final checkpoint (`suspend_all`); the new process continues each
one from that checkpoint (`resume_from`), or from the database alone when no snapshot is
usable (`resume_from_database`). A job spec with `ignore_suspend` really keeps running when
asked to stop: it is how a hung task is produced on purpose.

Two kinds exist: `builtin` (timed work done inside the worker) and `command` (an external
program run without a shell, refused unless enabled; a restart terminates and re-runs it).
"""

from __future__ import annotations

import logging
import sqlite3
import subprocess
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import anyio
import anyio.abc

from orchestrator import clock
from orchestrator import rows as db
from orchestrator.blocking import run_blocking
from orchestrator.errors import OrchestratorError
from orchestrator.job_spec import JobSpec, JobSpecError, parse_job_spec
from orchestrator.rows import utc_now
from orchestrator.store import StoreBusyError, StoreError, TaskStore

log = logging.getLogger(__name__)

T = TypeVar("T")

TICK_S = 0.05
BUSY_RETRY_S = 0.5
OUTPUT_TAIL_BYTES = 4096
RESUMABLE_STATUSES = ("running", "suspended")


class JobError(OrchestratorError):
    """A job operation conflicts with the job's current state."""


def _interrupt(conn: sqlite3.Connection, task_id: str, error: str) -> None:
    """Record that a job stopped for good without finishing; executing its task again restarts it."""
    db.update_job(conn, task_id, status="interrupted", error=error)
    db.update_task(conn, task_id, only_if_status=("in_progress",), status="interrupted")


@dataclass(eq=False)
class _LiveJob:
    """A job executing (or suspended) in this process.

    status: running -> stopping (asked to stop) -> suspended, or -> hung when it ignored
    the request past the deadline.
    """

    task_id: str
    spec: JobSpec
    progress: float
    status: str = "running"
    stop_requested: bool = False
    stop_requested_at: float = 0.0
    checkpoint_saved: bool = False
    stopped: anyio.Event = field(default_factory=anyio.Event)
    wake: anyio.Event = field(default_factory=anyio.Event)  # set with a stop request: no tick to wait out
    scope: anyio.CancelScope = field(default_factory=anyio.CancelScope)

    @property
    def checkpoint(self) -> dict[str, Any]:
        return {"progress": self.progress, "saved_at": utc_now()}

    def record(self) -> dict[str, Any]:
        return {
            "task_id": self.task_id,
            "kind": self.spec.kind,
            "progress": self.progress,
            "checkpoint": self.checkpoint,
            "checkpoint_saved": self.checkpoint_saved,
            "spec": self.spec.to_dict(),
        }


class JobRunner:
    """Runs jobs in a task group owned by the caller, keeping the jobs table up to date."""

    def __init__(
        self, store: TaskStore, task_group: anyio.abc.TaskGroup, base_dir: Path | None = None
    ) -> None:
        self._store = store
        self._tg = task_group
        # Command jobs run in the base dir, which holds `.task_orchestrator/<database>`.
        self._base_dir = base_dir if base_dir is not None else store.path.parent.parent
        self._jobs: dict[str, _LiveJob] = {}

    # -- starting and resuming -------------------------------------------------------------

    async def start(
        self, task_id: str, spec: Mapping[str, Any] | JobSpec, progress: float = 0.0
    ) -> dict[str, Any]:
        """Validate, persist and run a job for an existing task."""
        parsed = parse_job_spec(spec)
        if not 0.0 <= progress <= 1.0:
            raise JobSpecError(f"progress must be within 0..1, got {progress!r}")
        self._refuse_if_live(task_id)

        def persist(conn: sqlite3.Connection) -> None:
            if db.get_task(conn, task_id) is None:
                raise JobError(f"no task with id {task_id!r}")
            db.save_job(
                conn,
                task_id,
                kind=parsed.kind,
                params=parsed.to_dict(),
                ignore_suspend=parsed.ignore_suspend,
                progress=progress,
            )

        await self._write(persist)
        self._spawn(task_id, parsed, progress)
        return {"task_id": task_id, "job": parsed.to_dict(), "progress": progress}

    async def ensure_running(self, task_id: str) -> bool:
        """Run the task's job if the database says it should run and it is not running here.

        Safe to call repeatedly (a replayed request starts nothing twice). Returns whether
        a job was started.
        """
        if task_id in self._jobs and self._jobs[task_id].status != "suspended":
            return False
        row = await self._read(lambda conn: db.get_job(conn, task_id))
        if row is None or row["status"] not in RESUMABLE_STATUSES:
            return False
        return await self._resume(task_id, row["params"], row["progress"])

    async def resume_all(self) -> dict[str, Any]:
        """Undo `suspend_all` in this process (a restart was rolled back)."""
        resumed = []
        for job in list(self._jobs.values()):
            if job.status == "suspended":
                if await self._resume(job.task_id, job.spec, job.progress):
                    resumed.append(job.task_id)
            elif job.stop_requested:
                job.stop_requested = False
                job.wake = anyio.Event()
                job.status = "running"
                resumed.append(job.task_id)
        return {"resumed": resumed}

    async def resume_from(self, checkpoints: Iterable[Any]) -> dict[str, Any]:
        """Continue jobs from checkpoint records (as returned by `suspend_all`, kept in the snapshot).

        A record is used only if the database's checkpoint of that job is older (by `saved_at`): a
        snapshot may be older than the database. A record whose job the database no longer wants
        run (cancelled, completed, deleted) is skipped: the database decides what runs.
        `differed` lists the jobs resumed at another progress than the database's.
        """
        resumed, skipped, differed = [], [], []
        for record in checkpoints:
            task_id = record.get("task_id") if isinstance(record, Mapping) else None
            if not isinstance(task_id, str):
                skipped.append({"task_id": None, "reason": "malformed record"})
                continue
            progress, saved_at = record.get("progress"), (record.get("checkpoint") or {}).get("saved_at")
            if isinstance(progress, bool) or not isinstance(progress, int | float) or not 0.0 <= progress <= 1.0:
                skipped.append({"task_id": task_id, "reason": f"bad progress {progress!r} in the record"})
                continue
            row = await self._read(lambda conn, tid=task_id: db.get_job(conn, tid))
            database_saved_at = ((row or {}).get("checkpoint") or {}).get("saved_at")
            if row is None or row["status"] not in RESUMABLE_STATUSES:
                reason = "no job in the database" if row is None else f"job is {row['status']}"
                skipped.append({"task_id": task_id, "reason": reason})
            elif not isinstance(saved_at, str) or isinstance(database_saved_at, str) and database_saved_at >= saved_at:
                skipped.append({"task_id": task_id, "reason": "the database's checkpoint is as new or newer"})
            elif await self._resume(task_id, row["params"], progress):
                resumed.append(task_id)
                if progress != row["progress"]:
                    differed.append({"task_id": task_id, "progress": progress, "database_progress": row["progress"]})
            else:
                skipped.append({"task_id": task_id, "reason": "could not be resumed; see the job's error"})
        return {"resumed": resumed, "skipped": skipped, "differed": differed}

    async def resume_from_database(self) -> dict[str, Any]:
        """Resume every job the database records as running or suspended."""
        rows = await self._read(lambda conn: db.jobs_with_status(conn, RESUMABLE_STATUSES))
        resumed = [row["task_id"] for row in rows if await self.ensure_running(row["task_id"])]
        return {"resumed": resumed}

    async def mark_interrupted(self) -> dict[str, Any]:
        """After an emergency restart: jobs the database left running belong to a dead process.

        If another connection holds the database, the marking is retried in the background: the
        worker must come up even then, since an emergency restart is how a held lock is recovered from.
        """
        live = tuple(self._jobs)

        def mark(conn: sqlite3.Connection) -> list[str]:
            ids = [row["task_id"] for row in db.jobs_with_status(conn, RESUMABLE_STATUSES)]
            ids = [task_id for task_id in ids if task_id not in live]
            for task_id in ids:
                _interrupt(conn, task_id, "the process running it stopped")
            return ids

        try:
            return {"interrupted": await self._write(mark), "pending": False}
        except StoreBusyError as exc:
            log.warning("database busy (%s); jobs will be marked interrupted once it is free", exc)
            self._tg.start_soon(self._retry_write, mark)
            return {"interrupted": [], "pending": True}

    async def _retry_write(self, fn: Callable[[sqlite3.Connection], Any]) -> None:
        while True:
            await anyio.sleep(BUSY_RETRY_S)
            try:
                await self._write(fn)
                return
            except StoreBusyError:
                continue

    # -- suspending and stopping -----------------------------------------------------------

    async def suspend_all(self, deadline_s: float) -> dict[str, Any]:
        """Ask every running job to stop at its next tick with a final checkpoint; wait up to the deadline."""
        targets = [job for job in self._jobs.values() if job.status in ("running", "hung")]
        for job in targets:
            job.stop_requested = True
            job.stop_requested_at = clock.monotonic()
            job.status = "stopping"
            job.wake.set()
        with anyio.move_on_after(deadline_s):
            for job in targets:
                await job.stopped.wait()
        hung = []
        for job in targets:
            if job.status == "stopping" and not job.stopped.is_set():
                job.status = "hung"
                hung.append(job.task_id)
        suspended = [job.record() for job in targets if job.status == "suspended"]
        return {"suspended": suspended, "hung": hung}

    async def persist_checkpoints(self, records: Iterable[Mapping[str, Any]]) -> None:
        """Write suspended jobs' checkpoints, raising StoreError if the database will not take them.

        A job's own final checkpoint is best effort; a restart must not proceed on that basis,
        or the new worker would resume from older progress.
        """
        rows = [(record["task_id"], record["progress"], record["checkpoint"]) for record in records]

        def save(conn: sqlite3.Connection) -> None:
            for task_id, progress, checkpoint in rows:
                db.update_job(conn, task_id, status="suspended", progress=progress, checkpoint=checkpoint)

        await self._write(save)

    async def cancel(self, task_id: str) -> bool:
        """Stop the task's job and record it cancelled. Returns whether it was live here."""
        job = self._jobs.pop(task_id, None)
        if job is not None:
            job.scope.cancel()
            await job.stopped.wait()
        await self._write(
            lambda conn: db.update_job(
                conn, task_id, only_if_status=(*RESUMABLE_STATUSES, "interrupted"), status="cancelled"
            )
        )
        return job is not None

    async def stop_all(self) -> None:
        """Shutdown: stop executing. The database keeps each job's last checkpoint, so the next process resumes it."""
        jobs = list(self._jobs.values())
        self._jobs.clear()
        for job in jobs:
            job.scope.cancel()
        for job in jobs:
            await job.stopped.wait()

    def stats(self) -> dict[str, Any]:
        """Live counts, measured from the jobs in this process."""
        executing = [job for job in self._jobs.values() if job.status in ("running", "stopping", "hung")]
        return {
            "running": sum(job.status in ("running", "stopping") for job in executing),
            "suspended": sum(job.status == "suspended" for job in self._jobs.values()),
            "hung": sum(job.status == "hung" for job in executing),
            "suspendable": sum(job.spec.suspendable for job in executing),
            "unsuspendable": sum(not job.spec.suspendable for job in executing),
            "ignore_suspend": sum(job.spec.ignore_suspend for job in executing),
            "jobs": [
                {
                    "task_id": job.task_id,
                    "kind": job.spec.kind,
                    "progress": job.progress,
                    "status": job.status,
                    "ignore_suspend": job.spec.ignore_suspend,
                }
                for job in self._jobs.values()
            ],
        }

    # -- execution -------------------------------------------------------------------------

    def _refuse_if_live(self, task_id: str) -> None:
        job = self._jobs.get(task_id)
        if job is not None and job.status != "suspended":
            raise JobError(f"task {task_id} already has a {job.status} job")

    async def _resume(self, task_id: str, spec: Mapping[str, Any] | JobSpec, progress: float) -> bool:
        try:
            parsed = parse_job_spec(spec)
        except JobSpecError as exc:
            error = f"cannot resume: {exc}"
            await self._write(lambda conn: _interrupt(conn, task_id, error))
            return False
        progress = min(max(float(progress), 0.0), 1.0)
        changed = await self._try_write(
            lambda conn: db.update_job(
                conn, task_id, only_if_status=RESUMABLE_STATUSES, status="running", progress=progress
            )
        )
        if changed is False:
            return False  # the database no longer wants it run
        # None (database unavailable): run anyway; the job's checkpoints record it once writes succeed.
        self._spawn(task_id, parsed, progress)
        return True

    def _spawn(self, task_id: str, spec: JobSpec, progress: float) -> None:
        self._refuse_if_live(task_id)
        job = _LiveJob(task_id, spec, progress)
        self._jobs[task_id] = job
        self._tg.start_soon(self._drive, job, name=f"job {task_id}")

    async def _drive(self, job: _LiveJob) -> None:
        try:
            with job.scope:
                try:
                    if job.spec.kind == "builtin":
                        await self._run_builtin(job)
                    else:
                        await self._run_command(job)
                except Exception as exc:
                    log.exception("job %s failed", job.task_id)
                    await self._finish(job, "failed", {"error": f"{type(exc).__name__}: {exc}"})
        finally:
            if job.status != "suspended" and self._jobs.get(job.task_id) is job:
                del self._jobs[job.task_id]
            job.stopped.set()

    @staticmethod
    async def _pause(job: _LiveJob, tick: float) -> None:
        """Wait one tick, or less if a stop request arrives (a job ignoring it keeps ticking)."""
        if job.wake.is_set():
            await anyio.sleep(tick)
            return
        with anyio.move_on_after(tick):
            await job.wake.wait()

    def _should_stop(self, job: _LiveJob) -> bool:
        """A job honours a stop request, unless it is made to ignore it (for ever, or for a while)."""
        if not job.stop_requested or job.spec.ignore_suspend and job.spec.ignore_suspend_s is None:
            return False
        ignored_for = job.spec.ignore_suspend_s if job.spec.ignore_suspend else 0.0
        return clock.monotonic() - job.stop_requested_at >= ignored_for

    async def _run_builtin(self, job: _LiveJob) -> None:
        assert job.spec.duration_s is not None
        duration, interval = job.spec.duration_s, job.spec.checkpoint_interval_s
        tick = min(TICK_S, interval)
        origin, origin_progress = clock.monotonic(), job.progress
        last_saved = origin
        while True:
            if job.progress >= 1.0:
                result = {"kind": "builtin", "duration_s": duration, "finished_at": utc_now()}
                if await self._finish(job, "completed", result) is not None:
                    return
            if self._should_stop(job):
                await self._suspend(job)
                return
            await self._pause(job, tick)
            now = clock.monotonic()
            job.progress = min(1.0, origin_progress + (now - origin) / duration)
            if now - last_saved >= interval:
                last_saved = now
                if await self._checkpoint(job) is False:
                    return  # the database no longer wants this job (cancelled or deleted)

    async def _run_command(self, job: _LiveJob) -> None:
        tail = b""
        terminated = False

        async def terminate_on_stop(process: anyio.abc.Process) -> None:
            nonlocal terminated
            while not self._should_stop(job):
                await self._pause(job, TICK_S)
            terminated = True
            process.terminate()

        async with await anyio.open_process(
            list(job.spec.argv),
            cwd=self._base_dir,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        ) as process:
            async with anyio.create_task_group() as watchers:
                watchers.start_soon(terminate_on_stop, process)
                assert process.stdout is not None
                async for chunk in process.stdout:
                    tail = (tail + chunk)[-OUTPUT_TAIL_BYTES:]
                exit_code = await process.wait()
                watchers.cancel_scope.cancel()
        if terminated:
            job.progress = 0.0  # a command restarts from the beginning
            await self._suspend(job)
            return
        job.progress = 1.0
        result = {"kind": "command", "exit_code": exit_code, "output_tail": tail.decode(errors="replace")}
        while await self._finish(job, "completed" if exit_code == 0 else "failed", result) is None:
            await anyio.sleep(TICK_S)

    async def _checkpoint(self, job: _LiveJob) -> bool | None:
        progress, checkpoint = job.progress, job.checkpoint
        return await self._try_write(
            lambda conn: db.update_job(
                conn,
                job.task_id,
                only_if_status=RESUMABLE_STATUSES,
                status="running",
                progress=progress,
                checkpoint=checkpoint,
            )
        )

    async def _suspend(self, job: _LiveJob) -> None:
        progress, checkpoint = job.progress, job.checkpoint
        saved = await self._try_write(
            lambda conn: db.update_job(
                conn,
                job.task_id,
                only_if_status=RESUMABLE_STATUSES,
                status="suspended",
                progress=progress,
                checkpoint=checkpoint,
            )
        )
        # Suspended either way: the record returned by suspend_all still carries the checkpoint.
        job.checkpoint_saved = saved is True
        job.status = "suspended"

    async def _finish(self, job: _LiveJob, status: str, result: dict[str, Any]) -> bool | None:
        """Record the outcome on the job and its task; None if the database could not be written."""
        progress, checkpoint = job.progress, job.checkpoint
        task_status = "completed" if status == "completed" else "failed"
        summary = f"{job.spec.kind} job {status}"

        def record(conn: sqlite3.Connection) -> bool:
            if not db.update_job(
                conn,
                job.task_id,
                only_if_status=RESUMABLE_STATUSES,
                status=status,
                progress=progress,
                checkpoint=checkpoint,
                error=result.get("error"),
            ):
                return False
            db.update_task(
                conn,
                job.task_id,
                only_if_status=("in_progress",),
                status=task_status,
                result=result,
                summary=summary,
            )
            return True

        return await self._try_write(record)

    # -- database access -------------------------------------------------------------------

    async def _read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        return await run_blocking(self._store.read, fn)

    async def _write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        return await run_blocking(self._store.write, fn)

    async def _try_write(self, fn: Callable[[sqlite3.Connection], T]) -> T | None:
        """A write from inside a running job: a busy or failing database must not kill the work."""
        try:
            return await self._write(fn)
        except StoreError as exc:
            log.warning("job checkpoint not written: %s", exc)
            return None

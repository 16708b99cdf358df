"""Activation: how a worker starts serving, from the newest valid snapshot or the database alone.

A database found missing or damaged at start is rebuilt from a snapshot first; jobs then resume
from their checkpoints (or are marked interrupted after an emergency restart), and idempotency
keys outside the window are forgotten. The supervisor asks for it (`control_activate`); a
standalone worker activates itself.
"""

from __future__ import annotations

import logging
import os
import sqlite3
from typing import TYPE_CHECKING, Any

from mcp.server.mcpserver.exceptions import ToolError

from orchestrator import faultpoints, rebuild, snapshot, table_copy
from orchestrator.blocking import run_blocking
from orchestrator.store import StoreError

if TYPE_CHECKING:
    from orchestrator.worker import WorkerState

log = logging.getLogger(__name__)


async def activate(state: WorkerState, mode: str) -> dict[str, Any]:
    if mode not in ("snapshot", "database", "interrupted"):
        raise ToolError(f"unknown activation mode {mode!r}: use snapshot, database or interrupted")
    if state.activated:
        return {"ok": True, "already_active": True, "restore_report": state.restore_report}
    await faultpoints.reached("worker.activate")
    jobs = state.running_jobs()
    checkpoints: list[Any] = []  # the snapshot's job checkpoints at suspension (a rebuild restored them already)
    rebuilt = await repair_database(state)
    if rebuilt is not None and rebuilt["rebuilt"]:
        report = {"used": rebuilt["snapshot"], "source": rebuilt["source"], "rejected": rebuilt["rejected"]}
    elif mode == "snapshot":
        restored = await run_blocking(snapshot.load_latest, state.paths)
        report = restored.summary()
        checkpoints = restored.document["suspended_tasks"] if restored.document else []
    else:
        report = {"used": None, "source": "database_only", "rejected": []}
    try:
        if mode == "interrupted":
            marked = await jobs.mark_interrupted()
            report["note"] = (
                "jobs left running will be marked interrupted once the database lock is released"
                if marked["pending"]
                else "running jobs marked interrupted"
            )
        else:
            if mode == "database":
                report["note"] = "snapshot not requested"
            if checkpoints:
                report["checkpoints"] = await jobs.resume_from(checkpoints)
            await jobs.resume_from_database()
        if pruned := await prune_idempotency_keys(state):
            report["idempotency_keys_pruned"] = pruned
    except (StoreError, sqlite3.Error) as exc:
        # Serve anyway: a damaged database is diagnosed through the health check, not by refusing to start.
        log.error("database error while restoring jobs: %s", exc)
        report["database_error"] = str(exc)
    if report["source"] == "database_only" and report["rejected"]:
        report["note"] = "no valid snapshot: started from the database alone"
    if rebuilt is not None:
        report["rebuild"] = {key: value for key, value in rebuilt.items() if key not in ("source", "rejected")}
    state.restore_report = report
    state.activated = True
    log.info("worker %d activated (%s): %s", os.getpid(), mode, report)
    return {"ok": True, "restore_report": report, "jobs": jobs.stats()}


async def prune_idempotency_keys(state: WorkerState) -> int:
    """Forget the idempotency keys outside the window. Counted first, so that a database another
    process holds locked does not keep activation waiting for a write with nothing to do."""
    since = table_copy.idempotency_since(state.idempotency_window_s)
    if not await run_blocking(state.store.read, lambda conn: table_copy.idempotency_keys_outside(conn, since)):
        return 0
    return await run_blocking(state.store.write, lambda conn: table_copy.prune_idempotency(conn, since))


async def repair_database(state: WorkerState) -> dict[str, Any] | None:
    """Rebuild a database found missing, empty, unreadable or corrupt at start from the newest
    valid snapshot, and say so loudly; None when there was nothing to repair (a first start, with
    neither a database nor a snapshot, included)."""
    problem, state.database_problem = state.database_problem, None
    if problem is None:
        return None
    try:
        rebuilt = await run_blocking(rebuild.rebuild, state.paths, problem, state.store.replace_file)
        if problem.kind == "replaced":
            await run_blocking(rebuild.clear_restore_request, state.paths)
    except (OSError, StoreError, sqlite3.Error) as exc:  # e.g. a full disk: serve what there is, and say why
        rebuilt = rebuild.failed(problem, f"the rebuild failed: {exc}", [])
    no_snapshot_ever = not state.paths.state_dir.is_dir()  # unusable at start: RESTART_001 says so
    first_start = no_snapshot_ever or all(rejected["reason"] == "file is missing" for rejected in rebuilt["rejected"])
    if not rebuilt["rebuilt"] and problem.kind == "missing" and first_start:
        return None
    log.error("%s (lost: %s; rejected: %s)", rebuilt["summary"], rebuilt.get("lost_writes"), rebuilt["rejected"])
    return rebuilt

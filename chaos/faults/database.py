"""Database faults: a lock held by another process, and damaged pages.

Both are the real thing. The lock is a separate process of this run holding `BEGIN EXCLUSIVE`
on the task database for a given time, and a probe confirms that a writer gets SQLITE_BUSY. The
damage overwrites one b-tree page of the live database file in place, after a copy of the file
is kept; healing writes the page back if it still holds what the fault left.

SQLite resolves symbolic links in a database path, and /proc/<pid>/root is one: through it, SQLite
would open the host's file under the confined orchestrator's tmpfs. So every SQLite connection of
these faults is made by a small process inside the orchestrator's mount namespace.
"""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
from anyio.abc import Process
from pydantic import Field

from chaos.faults.base import Fault, FaultContext, FaultError, FaultParams, Injection
from chaos.faults.phases import Phase, wait_for_phase
from chaos.host.namespace import entered, unview
from chaos.host.ownership import bound_to_harness, owned_env

LOCK_READY_S = 30.0
_HOLD_LOCK = """
import sqlite3, sys, time
connection = sqlite3.connect(sys.argv[1], timeout=30, isolation_level=None)
connection.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
connection.execute("ROLLBACK")
"""
_PROBE_WRITER = """
import sqlite3, sys
probe = sqlite3.connect(sys.argv[1], timeout=0, isolation_level=None)
try:
    probe.execute("BEGIN IMMEDIATE")
    probe.execute("ROLLBACK")
    print("free")
except sqlite3.OperationalError as exc:
    print(getattr(exc, "sqlite_errorname", exc))
"""
_LAYOUT = """
import json, sqlite3, sys
connection = sqlite3.connect(sys.argv[1], timeout=10)
busy = connection.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
print(json.dumps({
    "busy": busy,
    "page_size": connection.execute("PRAGMA page_size").fetchone()[0],
    "roots": dict(connection.execute("SELECT name, rootpage FROM sqlite_master WHERE rootpage > 1").fetchall()),
}))
"""


def sqlite_command(ctx: FaultContext, script: str, *args: str) -> list[str]:
    """Python running `script` on the task database as the orchestrator itself sees it."""
    pid = ctx.mount_namespace_pid
    database = ctx.paths.database if pid is None else unview(pid, ctx.paths.database)
    return entered(pid, [sys.executable, "-c", script, str(database), *args])


async def run_sqlite(ctx: FaultContext, script: str) -> str:
    result = await anyio.run_process(sqlite_command(ctx, script), env=owned_env(), check=False)
    if result.returncode != 0:
        raise FaultError(f"SQLite helper failed on {ctx.paths.database.name}: {result.stderr.decode().strip()}")
    return result.stdout.decode().strip()


class DatabaseLockParams(FaultParams):
    hold_s: float = Field(60.0, gt=0, le=3600, description="how long the other process keeps the lock")
    at_phase: Phase | None = Field(None, description="take the lock when a restart reaches this phase (None: now)")


class DatabaseLock(Fault):
    name = "db_lock"
    summary = "Another process holds an exclusive lock on the task database."
    guide_sections = ("issue-5.cause-1", "issue-5.solution-1", "issue-5.symptom-1", "issue-2.cause-2")
    expected_error_codes = ("RESTART_003", "RESTART_008")
    mechanism = "a separate process of this run holding BEGIN EXCLUSIVE on the task database"
    Params = DatabaseLockParams

    @classmethod
    def sim_blocker(cls, params: dict[str, Any]) -> str | None:
        return "SQLite waits for a held lock in real time inside its C library, outside the virtual clock"

    def __init__(self, **params: Any):
        super().__init__(**params)
        self._holder: Process | None = None

    async def inject(self, ctx: FaultContext) -> Injection:
        phase = None
        if self.params.at_phase is not None:
            phase = (await wait_for_phase(ctx, self.params.at_phase))["phase"]
        if not ctx.paths.database.is_file():
            raise FaultError(f"db_lock: no database at {ctx.paths.database}")
        self._holder = await anyio.open_process(
            bound_to_harness(sqlite_command(ctx, _HOLD_LOCK, str(self.params.hold_s))),
            stdout=subprocess.PIPE,
            env=owned_env(),
        )
        assert self._holder.stdout is not None
        with anyio.fail_after(LOCK_READY_S):
            ready = await self._holder.stdout.receive()
        if ready.strip() != b"locked":
            raise FaultError(f"db_lock: the lock holder said {ready!r} instead of taking the lock")
        probe = await run_sqlite(ctx, _PROBE_WRITER)
        if probe != "SQLITE_BUSY":
            raise FaultError(f"db_lock: the lock is held, yet a writer got {probe!r}, not SQLITE_BUSY")
        return self.record(
            self.mechanism, True, holder_pid=self._holder.pid, hold_s=self.params.hold_s, phase=phase, probe=probe
        )

    async def heal(self) -> None:
        if self._holder is not None:
            if self._holder.returncode is None:
                self._holder.kill()
            await self._holder.wait()
            await self._holder.aclose()
            self._holder = None


class DatabaseCorruptionParams(FaultParams):
    object: str = Field("idempotency", description="table or index whose root page is damaged (see sqlite_master)")
    seed: int = 0


class DatabaseCorruption(Fault):
    name = "db_corruption"
    summary = "A page of the task database holds garbage, as a failing disk would leave it."
    guide_sections = ("issue-5.cause-3", "issue-5.solution-3", "issue-5.symptom-1")
    expected_error_codes = ("RESTART_008",)
    mechanism = "the root page of a table or index of the live database file overwritten in place (after a copy is kept)"
    Params = DatabaseCorruptionParams

    @classmethod
    def sim_blocker(cls, params: dict[str, Any]) -> str | None:
        return "it reads the database layout through a helper process, which takes real time the virtual clock would race past"

    def __init__(self, **params: Any):
        super().__init__(**params)
        self._page: tuple[Path, int, bytes, bytes] | None = None

    async def inject(self, ctx: FaultContext) -> Injection:
        layout = json.loads(await run_sqlite(ctx, _LAYOUT))
        root = layout["roots"].get(self.params.object)
        if root is None:
            raise FaultError(f"db_corruption: no table or index {self.params.object!r}; known: {', '.join(layout['roots'])}")
        if layout["busy"]:
            raise FaultError("db_corruption: the WAL could not be folded into the file (busy); its pages would hide the damage")
        database, page_size = ctx.paths.database, layout["page_size"]
        ctx.scratch.mkdir(parents=True, exist_ok=True)
        copy = ctx.scratch / f"{database.name}.before-corruption"
        shutil.copyfile(database, copy)
        offset = (root - 1) * page_size
        garbage = random.Random(self.params.seed).randbytes(page_size)
        with open(database, "r+b") as handle:
            handle.seek(offset)
            original = handle.read(page_size)
            handle.seek(offset)
            handle.write(garbage)
        self._page = (database, offset, original, garbage)
        return self.record(self.mechanism, True, object=self.params.object, page=root, page_size=page_size, copy=str(copy))

    async def heal(self) -> None:
        if self._page is None:
            return
        database, offset, original, garbage = self._page
        self._page = None
        if not database.is_file():
            return
        with open(database, "r+b") as handle:
            handle.seek(offset)
            if handle.read(len(garbage)) == garbage:
                handle.seek(offset)
                handle.write(original)

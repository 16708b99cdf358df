"""A `server.lock` left behind: by a process that died (stale), or held by a live orchestrator.

Both owners are real processes of this run: a process that has exited (its pid is then dead),
or a decoy orchestrator (a real supervisor on a scratch base directory) that is alive. The lock
is written before the orchestrator under test starts; healing stops the decoy and removes the
lock if it still names the fault's owner.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any, Literal

import anyio
from pydantic import Field

from chaos.faults.base import Fault, FaultContext, FaultError, FaultParams, Injection
from chaos.host.ownership import bound_to_harness, owned_env
from orchestrator.lockfile import read_owner

STOP_WAIT_S = 15.0


class StaleLockParams(FaultParams):
    owner: Literal["dead", "live"] = Field("dead", description="dead: a pid that exited; live: a running orchestrator")


class StaleLock(Fault):
    name = "stale_lock"
    summary = "server.lock names a process that is gone (stale), or a live orchestrator that owns the directory."
    guide_sections = ("recovery.complete.step-2", "recovery.complete.step-4")
    expected_error_codes = ()
    mechanism = "server.lock written with the pid of a process of this run that has exited, or of a live decoy orchestrator"
    Params = StaleLockParams

    @classmethod
    def sim_blocker(cls, params: dict[str, Any]) -> str | None:
        if params.get("owner") == "live":
            return "owner=live starts a real decoy orchestrator process"
        return None

    def __init__(self, **params: Any):
        super().__init__(**params)
        self._lock: tuple[Path, int] | None = None
        self._decoy: subprocess.Popen[bytes] | None = None

    async def inject(self, ctx: FaultContext) -> Injection:
        lock = ctx.paths.lock_file
        if ctx.supervisor_pid() is not None:
            raise FaultError("stale_lock: the orchestrator is running; the lock is written before it starts")
        if lock.exists():
            raise FaultError(f"stale_lock: {lock} exists already and is not this fault's to overwrite")
        if self.params.owner == "dead":
            process = subprocess.Popen([sys.executable, "-c", "pass"], env=owned_env())
            process.wait()
            owner = process.pid
        else:
            decoy_base = ctx.scratch / "decoy"
            decoy_base.mkdir(parents=True, exist_ok=True)
            self._decoy = subprocess.Popen(
                bound_to_harness([sys.executable, "-m", "mcp_task_orchestrator.server", "--base-dir", str(decoy_base)]),
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                env=owned_env(),
            )
            owner = self._decoy.pid
        lock.parent.mkdir(parents=True, exist_ok=True)
        lock.write_text(f"{owner}\n")
        self._lock = (lock, owner)
        alive = Path(f"/proc/{owner}").exists()
        return self.record(self.mechanism, True, owner=self.params.owner, pid=owner, pid_alive=alive)

    async def heal(self) -> None:
        if self._decoy is not None:
            decoy, self._decoy = self._decoy, None
            assert decoy.stdin is not None
            decoy.stdin.close()  # a stdio orchestrator stops when its client goes away
            try:
                await anyio.to_thread.run_sync(decoy.wait, STOP_WAIT_S)
            except subprocess.TimeoutExpired:
                decoy.kill()
                decoy.wait()
        if self._lock is not None:
            lock, owner = self._lock
            self._lock = None
            if read_owner(lock) == owner:
                lock.unlink()

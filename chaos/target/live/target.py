"""The live target: each run starts real supervisor and worker processes in a directory of its own.

Scenarios may share one event loop (their work is in the processes they start), shell steps run as
real child processes the run owns, and leftovers are found by scanning /proc for anything that
names the run's directory, then ended if (and only if) this harness started them.
"""

from __future__ import annotations

import os
import signal
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import anyio

from chaos.host import ownership
from chaos.host.namespace import Confinement, confinement_blocker
from chaos.interrupt import interruptible
from chaos.scenario import Scenario
from chaos.scenario.model import StartStep, walk_steps
from chaos.target.base import Strays
from chaos.target.live.server import Server

T = TypeVar("T")


class LiveTarget:
    name: ClassVar[str] = "live"
    concurrent: ClassVar[bool] = True
    replayable: ClassVar[bool] = False  # it depends on the kernel's scheduling
    real_time: ClassVar[bool] = True

    def __init__(self, seed: int | None = None):
        self.seed = None  # not replayable: no seed

    def execute(self, function: Callable[..., Awaitable[T]], *args: Any) -> T:
        """On asyncio, with Ctrl-C turned into a cancellation that heals every fault on the way out."""
        return anyio.run(interruptible, function, *args)

    def blockers(self, scenario: Scenario) -> list[str]:
        """A confined start the kernel refuses us (no mount namespace for this user)."""
        confined = [loc for loc, step in walk_steps(scenario.steps, "steps") + walk_steps(scenario.finally_, "finally")
                    if isinstance(step, StartStep) and step.start is not None and step.start.confined]  # fmt: skip
        blocker = confinement_blocker() if confined else None
        return [f"{', '.join(confined)}: {blocker}"] if blocker else []

    def scenario_root(self, name: str, workdir: Path | None) -> Path:
        return Path(tempfile.mkdtemp(prefix=f"chaos-{name[:40]}-", dir=workdir))

    def new_orchestrator(
        self,
        base: Path,
        transport: str,
        args: list[str],
        env: dict[str, str],
        confine: Confinement | None,
        protocol: str,
    ) -> Server:
        return Server(base, transport, args, env, confine, protocol)

    async def run_command(
        self, argv: list[str], cwd: Path, env: dict[str, str], timeout_s: float
    ) -> tuple[int, str, str]:
        """Run `argv` in a session of its own; TimeoutError (with it killed) after `timeout_s`."""
        process = await anyio.open_process(argv, cwd=cwd, env=env, start_new_session=True)
        output: dict[str, list[bytes]] = {"stdout": [], "stderr": []}
        try:
            with anyio.fail_after(timeout_s):
                async with anyio.create_task_group() as group:
                    for name in output:
                        group.start_soon(_drain, getattr(process, name), output[name])
                    code = await process.wait()
                    _kill_group(
                        process.pid
                    )  # what the command left running in the background goes with it (and its pipes)
        finally:
            _kill_group(process.pid)
        stdout, stderr = (b"".join(output[name]).decode(errors="replace") for name in ("stdout", "stderr"))
        return code, stdout, stderr

    def strays(self, root: Path) -> tuple[Strays, str]:
        return ownership.processes_under(root), f"no process refers to {root}"

    def end_strays(self, root: Path, note: Callable[[str], None]) -> None:
        for pid, command in ownership.processes_under(root):
            try:
                ownership.signal_ours(pid, signal.SIGKILL)
                note(f"killed stray process {pid}: {command}")
            except ownership.NotOurs:
                note(f"stray process {pid} is not this run's; left alone: {command}")

    def clock_start(self) -> float:
        return time.time()

    def elapsed(self, started: float, durations: list[float]) -> float:
        return time.time() - started  # scenarios ran side by side: the wall clock, not their sum


async def _drain(stream: Any, chunks: list[bytes]) -> None:
    async for chunk in stream:
        chunks.append(chunk)


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass

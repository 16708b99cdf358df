"""The simulated target: the real supervisor and worker code in this process, on a virtual clock, seeded.

Everything a run reads that could differ between two runs comes from here: the loop's clock
(MockClock), the wall clock (a freezegun clock moved with the virtual one), the ids the orchestrator
makes up (a Random seeded from the run's seed), the order in which trio runs tasks that are ready
at the same moment (seeded too), and where blocking work runs (inline, one thread). So the same
seed gives the same journal, byte for byte.
"""

from __future__ import annotations

import os
import random
import re
import shutil
import subprocess
import tempfile
from collections.abc import Awaitable, Callable
from datetime import UTC
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import anyio

from chaos.scenario import Scenario
from chaos.target.base import Strays
from chaos.target.client import scratch_dir
from chaos.target.sim.clock import EPOCH, SimulatedClock
from chaos.target.sim.orchestrator import FIRST_PID, SimulatedOrchestrator
from chaos.target.sim.processes import SimulatedProcesses
from chaos.target.sim.support import sim_blockers
from orchestrator import blocking, entropy
from orchestrator import clock as orchestrator_clock

T = TypeVar("T")


class SimTarget:
    name: ClassVar[str] = "sim"
    concurrent: ClassVar[bool] = False  # a simulated run is CPU only: two at once would not be faster
    replayable: ClassVar[bool] = True
    real_time: ClassVar[bool] = False  # a journal holds simulated seconds, not what simulating takes

    def __init__(self, seed: int | None = None):
        self.seed = seed or 0
        self.processes = SimulatedProcesses(
            FIRST_PID
        )  # one table for every orchestrator of the run: pids stay unique

    def execute(self, function: Callable[..., Awaitable[T]], *args: Any) -> T:
        """Run `function(*args)` in simulated time with everything random drawn from the seed."""
        sim_clock = SimulatedClock()
        _seed_scheduler(self.seed)
        with sim_clock.installed(), entropy.seeded(random.Random(self.seed)), blocking.inline():
            return anyio.run(function, *args, backend="trio", backend_options={"clock": sim_clock.loop_clock})

    def blockers(self, scenario: Scenario) -> list[str]:
        return sim_blockers(scenario)

    def scenario_root(self, name: str, workdir: Path | None) -> Path:
        """A fixed directory, named by scenario and seed, so that the paths in the journal, and so the
        journal itself, are the same on every replay."""
        root = (workdir or Path(tempfile.gettempdir()) / "chaos-sim") / f"{_slug(name)}-seed{self.seed}"
        shutil.rmtree(root, ignore_errors=True)
        root.mkdir(parents=True)
        return root

    def new_orchestrator(
        self, base: Path, transport: str, args: list[str], env: dict[str, str], confine: Any, protocol: str
    ) -> SimulatedOrchestrator:
        """The simulation has no transport, mount namespace or environment of its own: scenarios that
        need them are skipped before they start (`blockers`)."""
        return SimulatedOrchestrator(base, args, scratch_dir(base) / "faultpoints.json", self.processes)

    async def run_command(self, argv: list[str], cwd: Path, env: dict[str, str], timeout_s: float) -> tuple[int, str, str]:
        """The command runs while the simulation stands still (waiting for it asynchronously would let
        the virtual clock race ahead); its timeout is real time. The run's files first take the
        simulation's time, so that what the command sees of them (`ls -la`) replays too."""
        _simulated_times(cwd, orchestrator_clock.utc_now().timestamp())
        try:
            done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, timeout=timeout_s, start_new_session=True, check=False)
        except subprocess.TimeoutExpired:
            raise TimeoutError(f"still running after {timeout_s:g}s") from None
        return done.returncode, done.stdout.decode(errors="replace"), done.stderr.decode(errors="replace")

    def strays(self, root: Path) -> tuple[Strays, str]:
        return self.processes.alive(), "in the simulator's process table"

    def end_strays(self, root: Path, note: Callable[[str], None]) -> None:
        return None  # no real process was started; `strays` reads the simulator's table

    def clock_start(self) -> float:
        return EPOCH.replace(
            tzinfo=UTC
        ).timestamp()  # times of the simulation: the same seed writes the same journal

    def elapsed(self, started: float, durations: list[float]) -> float:
        return sum(durations)  # one after another, in virtual time


def _simulated_times(directory: Path, now: float) -> None:
    """Set every file and directory under `directory` (the run's own) to the simulated time `now`: the
    kernel stamps them with the real time, which differs from one replay to the next."""
    for parent, directories, files in os.walk(directory):
        for name in [*directories, *files]:
            os.utime(os.path.join(parent, name), (now, now), follow_symlinks=False)
    os.utime(directory, (now, now))


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", name)[:60].strip("-") or "scenario"


def _seed_scheduler(seed: int) -> None:
    """trio runs the tasks that are ready at once in a random order (to flush out ordering
    assumptions), from a Random of its own: seed it, in the deterministic mode trio's Hypothesis
    plugin uses, or two runs of one seed interleave their tasks differently. trio has no public
    switch for this; these are the two names its plugin sets."""
    from trio._core import _run as trio_run

    setattr(trio_run, "_ALLOW_DETERMINISTIC_SCHEDULING", True)  # noqa: B010 (a Final of trio's)
    trio_run._r.seed(seed)

"""The sweep: one simulated run for N = 1, 2, 3... until a run's restart reaches no Nth operation.

Each run starts from nothing in a directory of its own, with the same seed, so run N differs from
run N-1 only in the operation that fails; the run that injects nothing is the baseline, and its
operations are the restart's whole I/O path. A run whose outcome is not allowed (chaos.sweep.outcomes),
or that breaks an invariant, is kept on disk and can be replayed alone with `--only N`.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chaos.engine.failure import describe_error
from chaos.sweep.outcomes import judge, outcome_of
from chaos.sweep.schedule import Crash, DiskImage, IoError, NthOperation, Operation
from chaos.sweep.workload import VARIANTS, RestartWorkload
from chaos.target.sim.target import SimTarget
from orchestrator import faultpoints
from orchestrator.config import Paths
from orchestrator.faultpoints import IO_KINDS

MAX_OPERATIONS = 1000  # a restart with more I/O operations than this is looping, not sweeping


def default_workdir() -> Path | None:
    """Memory (/dev/shm) when there is one: a simulated run's fsyncs need not wait for a disk (crashes are
    simulated from disk images, not power cuts), and on a disk they take longer than the run itself."""
    memory = Path("/dev/shm")
    return memory if memory.is_dir() and os.access(memory, os.W_OK) else None


@dataclass(frozen=True)
class SweepConfig:
    variants: tuple[str, ...] = tuple(VARIANTS)
    kinds: tuple[str, ...] = IO_KINDS
    errno_name: str = "EIO"
    crash: bool = False
    seed: int = 0
    workdir: Path | None = field(default_factory=default_workdir)

    def replay_command(self, variant: str, nth: int) -> str:
        words = ["python -m chaos sweep", f"--only {nth}", f"--restart {variant}"]
        if tuple(self.kinds) != IO_KINDS:
            words.append(f"--kinds {','.join(self.kinds)}")
        words.append("--crash" if self.crash else f"--errno {self.errno_name}")
        if self.seed:
            words.append(f"--seed {self.seed}")
        return " ".join(words)


@dataclass
class SweepRun:
    variant: str
    nth: int
    struck: Operation | None
    operations: list[Operation]
    outcome: str
    error_code: str | None
    problems: list[str] = field(default_factory=list)
    answer: dict[str, Any] | None = None  # the swept restart's answer
    seconds: float = 0.0
    kept: Path | None = None

    @property
    def ok(self) -> bool:
        return not self.problems


def run_one(config: SweepConfig, variant: str, nth: int | None) -> SweepRun:
    """Run the workload with its `nth` armed operation failing (None: none), and judge it."""
    directory = Path(tempfile.mkdtemp(prefix=f"sweep-{variant}-{nth}-", dir=config.workdir))
    base = directory / "base"
    base.mkdir()
    image = DiskImage(Paths(base).root, directory / "crash-image")
    fault = Crash(image) if config.crash else IoError(config.errno_name)
    schedule = NthOperation(nth, frozenset(config.kinds), fault)
    started = time.perf_counter()
    problems: list[str] = []
    answer = None
    try:
        with faultpoints.io_schedule(schedule):
            workload = RestartWorkload(base, variant, schedule, image, config.seed)
            report = SimTarget(config.seed).execute(workload.run)
        outcome = outcome_of(report)
        problems += report.problems
        answer = report.restart
        error_code = (answer or {}).get("error_code")
    except Exception as exc:  # the workload itself broke: report it as this run's finding
        outcome, error_code = "harness error", None
        problems.append(f"the run raised {describe_error(exc)}")
    verdict = judge(outcome, schedule.struck, config.crash)
    if verdict:
        problems.insert(0, verdict)
    run = SweepRun(variant, nth or 0, schedule.struck, schedule.seen, outcome, error_code, problems, answer,
                   time.perf_counter() - started)
    if run.ok:
        shutil.rmtree(directory, ignore_errors=True)
    else:
        run.kept = directory
    return run


def sweep(config: SweepConfig, on_run: Callable[[SweepRun], None] = lambda run: None) -> list[SweepRun]:
    """Every N of every variant, until the run that injects nothing (which must succeed cleanly)."""
    runs = []
    for variant in config.variants:
        for nth in range(1, MAX_OPERATIONS + 1):
            run = run_one(config, variant, nth)
            runs.append(run)
            on_run(run)
            if run.struck is None:
                break
    return runs

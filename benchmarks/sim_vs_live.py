"""Sim mode against live mode on the same restart workload, side by side in one run; full sweeps timed.

The workload is the sweep's (chaos.sweep.workload) with nothing injected: start, two tasks and a
running job, a restart, the measured restart with a client call during it, the invariants, one
more restart and the invariants again. Sim runs it in this process on a virtual clock; live runs
it against real supervisor and worker processes (stdio), as `python -m chaos run` does. Printed:
runs/s of each (sim also per CPU second, i.e. on one core, whatever else the machine is doing),
and the ratio. Then `python -m chaos sweep` and `python -m chaos sweep --crash` are timed as a
user runs them (interpreter start included).

    .venv/bin/python -m benchmarks.sim_vs_live [--sim-runs 20] [--live-runs 3] [--no-sweeps]
"""

from __future__ import annotations

import argparse
import logging
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import anyio

from chaos.engine.server import Server
from chaos.sweep.runner import SweepConfig, run_one
from chaos.sweep.schedule import DiskImage, IoError, NthOperation
from chaos.sweep.workload import RestartWorkload
from orchestrator.faultpoints import IO_KINDS

VARIANT = "graceful"


def live_server(base: Path) -> Server:
    return Server(base, "stdio", [], {}, None)


def sim_rates(runs: int) -> tuple[float, float]:
    """(runs per wall second, runs per CPU second) of the workload simulated."""
    config = SweepConfig()
    run_one(config, VARIANT, None)  # imports and first-use caches out of the measurement
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(runs):
        run = run_one(config, VARIANT, None)
        assert run.ok, run.problems
    return runs / (time.perf_counter() - wall), runs / (time.process_time() - cpu)


def live_rate(runs: int) -> float:
    """Runs per wall second of the workload against live processes."""
    started = time.perf_counter()
    for _ in range(runs):
        directory = Path(tempfile.mkdtemp(prefix="sim-vs-live-"))
        try:
            base = directory / "base"
            base.mkdir()
            schedule = NthOperation(None, frozenset(IO_KINDS), IoError())
            workload = RestartWorkload(base, VARIANT, schedule, DiskImage(base, directory / "unused"), 0, live_server)
            report = anyio.run(workload.run)
            assert not report.problems and (report.restart or {}).get("success"), report
        finally:
            shutil.rmtree(directory, ignore_errors=True)
    return runs / (time.perf_counter() - started)


def timed_sweep(*flags: str) -> tuple[float, int]:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "chaos", "sweep", *flags], capture_output=True, check=False)
    return time.perf_counter() - started, done.returncode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sim-runs", type=int, default=20, help="simulated runs to time (default 20)")
    parser.add_argument("--live-runs", type=int, default=3, help="live runs to time (default 3)")
    parser.add_argument("--no-sweeps", action="store_true", help="do not time the full sweeps")
    args = parser.parse_args()
    logging.disable(logging.CRITICAL)
    sim_wall, sim_cpu = sim_rates(args.sim_runs)
    print(f"sim:  {sim_wall:6.2f} runs/s ({sim_cpu:.2f} per CPU second) over {args.sim_runs} runs", flush=True)
    live = live_rate(args.live_runs)
    print(f"live: {live:6.2f} runs/s over {args.live_runs} runs", flush=True)
    print(f"sim/live: {sim_wall / live:.1f}x (per CPU second of sim: {sim_cpu / live:.1f}x)", flush=True)
    if not args.no_sweeps:
        for flags in ((), ("--crash",)):
            seconds, code = timed_sweep(*flags)
            print(f"python -m chaos sweep {' '.join(flags)}".rstrip() + f": {seconds:.1f}s, exit {code}", flush=True)


if __name__ == "__main__":
    main()

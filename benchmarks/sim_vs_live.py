"""Sim mode against live mode, side by side in one run, on two workloads; full sweeps timed.

1. The sweep's workload (chaos.sweep.workload) with nothing injected: start, two tasks and a
   running job, a restart, the measured restart with a client call during it, the invariants, one
   more restart and the invariants again.
2. The smallest catalogue-style scenario (MINIMAL_SCENARIO: start, one graceful restart, the
   invariants), run through the scenario engine as `python -m chaos run` runs it.

Sim runs each in this process on a virtual clock; live runs it against real supervisor and worker
processes (stdio). Printed: runs/s of each (sim also per CPU second, i.e. on one core, whatever
else the machine is doing), and the ratio. For the scenario, also the SDK's floor: what one tool
call on the SDK's in-memory transport costs (a no-op tool), times the MCP requests a simulated run
makes, i.e. the most runs per CPU second the SDK alone leaves room for. Then `python -m chaos sweep`
and `python -m chaos sweep --crash` are timed as a user runs them (interpreter start included).

    .venv/bin/python -m benchmarks.sim_vs_live [--sim-runs 20] [--live-runs 3] [--no-sweeps]
"""

from __future__ import annotations

import argparse
import logging
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import anyio
from mcp import Client
from mcp.client.session import ClientSession
from mcp.server.mcpserver import MCPServer

from benchmarks.record import machine, save
from chaos.engine import RunOptions
from chaos.engine import run_one as run_scenario_once  # the sweep's run_one is another
from chaos.scenario import Loaded, load_scenario
from chaos.sweep.runner import SweepConfig, run_one
from chaos.sweep.schedule import DiskImage, IoError, NthOperation
from chaos.sweep.workload import RestartWorkload
from chaos.target.live.server import Server
from chaos.target.sim.target import SimTarget
from orchestrator.faultpoints import IO_KINDS

VARIANT = "graceful"
MINIMAL_SCENARIO = """\
name: bench-minimal
description: the smallest catalogue-style scenario, start, one graceful restart, the invariants
covers: {guide: [issue-3.solution-1]}
steps:
  - start: {}
  - restart: {}
    expect: {phase: complete}
"""


def live_server(base: Path) -> Server:
    return Server(base, "stdio", [], {}, None)


def rates(run_once: Callable[[], None], runs: int, warm_up: bool) -> tuple[float, float]:
    """(runs per wall second, runs per CPU second of this process) of `runs` calls of `run_once`;
    `warm_up`: one untimed call first, so imports and first-use caches stay out of the measurement."""
    if warm_up:
        run_once()
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(runs):
        run_once()
    return runs / (time.perf_counter() - wall), runs / (time.process_time() - cpu)


def sweep_workload_simulated() -> None:
    run = run_one(SweepConfig(), VARIANT, None)
    assert run.ok, run.problems


def sweep_workload_live() -> None:
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


def minimal_scenario(directory: Path) -> Loaded:
    path = directory / "bench-minimal.yaml"
    path.write_text(MINIMAL_SCENARIO)
    loaded = load_scenario(path)
    assert loaded.scenario is not None, loaded.problems
    return loaded


def scenario_run(loaded: Loaded, options: RunOptions) -> Callable[[], None]:
    """One run of the scenario, in the mode `options` say, which must pass."""

    def run_once() -> None:
        result = run_scenario_once(loaded, options)
        assert result.outcome == "passed", result.report()

    return run_once


def requests_per_sim_run(loaded: Loaded, workdir: Path) -> int:
    """MCP requests one simulated run makes (clients to the supervisor, supervisor to its workers),
    counted by wrapping the SDK's public ClientSession.send_request for this one run."""
    count = 0
    original = ClientSession.send_request

    async def counted(self: ClientSession, *args: object, **kwargs: object) -> object:
        nonlocal count
        count += 1
        return await original(self, *args, **kwargs)

    ClientSession.send_request = counted  # type: ignore[method-assign]
    try:
        run_scenario_once(loaded, RunOptions(workdir=workdir, mode="sim", seed=0))
    finally:
        ClientSession.send_request = original  # type: ignore[method-assign]
    return count


def sdk_call_cost(calls: int) -> float:
    """CPU seconds of one tool call through the SDK's in-memory transport to a tool that does nothing,
    on the simulator's event loop (the median of five rounds: the first calls warm caches)."""
    app = MCPServer("floor")

    @app.tool()
    async def ping() -> str:  # async, as every orchestrator tool is: a sync tool would run in a thread
        return "pong"

    async def timed() -> float:
        rounds = []
        async with Client(app) as client:
            for _ in range(5):
                started = time.process_time()
                for _ in range(calls):
                    await client.call_tool("ping", {})
                rounds.append((time.process_time() - started) / calls)
        return statistics.median(rounds)

    return SimTarget(0).execute(timed)


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
    started, figures = machine(), {}
    print("sweep workload (two tasks, a job, three restarts, invariants twice):", flush=True)
    sim_wall, sim_cpu = rates(sweep_workload_simulated, args.sim_runs, warm_up=True)
    print(f"  sim:  {sim_wall:6.2f} runs/s ({sim_cpu:.2f} per CPU second) over {args.sim_runs} runs", flush=True)
    live, _ = rates(sweep_workload_live, args.live_runs, warm_up=False)  # a live run takes seconds: none spared
    print(f"  live: {live:6.2f} runs/s over {args.live_runs} runs", flush=True)
    print(f"  sim/live: {sim_wall / live:.1f}x (per CPU second of sim: {sim_cpu / live:.1f}x)", flush=True)
    figures["sweep_workload"] = {"sim_runs_per_s": sim_wall, "sim_runs_per_cpu_s": sim_cpu, "live_runs_per_s": live}
    with tempfile.TemporaryDirectory(prefix="sim-vs-live-") as scratch:
        directory = Path(scratch)
        loaded = minimal_scenario(directory)
        print("minimal scenario (start, one graceful restart, the invariants):", flush=True)
        simulated = RunOptions(workdir=directory / "sim", mode="sim", seed=0)
        wall, cpu = rates(scenario_run(loaded, simulated), args.sim_runs, warm_up=True)
        print(f"  sim:  {wall:6.2f} runs/s ({cpu:.2f} per CPU second) over {args.sim_runs} runs", flush=True)
        live, _ = rates(scenario_run(loaded, RunOptions(workdir=directory / "live")), args.live_runs, warm_up=False)
        print(f"  live: {live:6.2f} runs/s over {args.live_runs} runs", flush=True)
        print(f"  sim/live: {wall / live:.1f}x (per CPU second of sim: {cpu / live:.1f}x)", flush=True)
        figures["minimal_scenario"] = {"sim_runs_per_s": wall, "sim_runs_per_cpu_s": cpu, "live_runs_per_s": live}
        requests, call_s = requests_per_sim_run(loaded, directory / "count"), sdk_call_cost(200)
        floor_s = requests * call_s
        print(
            f"  the SDK's floor: a no-op tool call in memory costs {call_s * 1e3:.2f} ms of CPU; a run makes "
            f"{requests} MCP requests: {floor_s * 1e3:.1f} ms, at most {1 / floor_s:.0f} runs per CPU second "
            f"(the run takes {1e3 / cpu:.1f} ms)",
            flush=True,
        )
        figures["sdk_floor"] = {"requests_per_sim_run": requests, "cpu_s_per_call": call_s}
    if not args.no_sweeps:
        for flags in ((), ("--crash",)):
            seconds, code = timed_sweep(*flags)
            print(f"python -m chaos sweep {' '.join(flags)}".rstrip() + f": {seconds:.1f}s, exit {code}", flush=True)
            figures[" ".join(("sweep", *flags))] = {"seconds": seconds, "exit": code}
    save("sim_vs_live", vars(args), figures, started)


if __name__ == "__main__":
    main()

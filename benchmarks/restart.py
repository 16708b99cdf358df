"""Restart cost, measured side by side in one run: total time and downtime.

For 0 / 1,000 / 10,000 active tasks and 1 / 20 clients, with the replacement worker started early
(before the old one hands over) and late (after), it restarts a live orchestrator several times
while every client keeps calling a cheap tool. Downtime is the longest any client call that
overlapped the restart took (the time a request waited in the buffer, seen end to end), counted
once every such call has been answered: a call held to the end of the restart is answered just
after the restart's own reply. Prints medians and the late/early ratios (the machine is noisy,
so only the ratios are compared), and writes every sample to reports/benchmarks/ (benchmarks.record).

    .venv/bin/python -m benchmarks.restart [--restarts 5] [--tasks 0,1000,10000] [--clients 1,20]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path
from statistics import median

import anyio

from benchmarks.record import machine, save
from chaos.target.client import call
from chaos.target.live.orchestrator import http_orchestrator
from chaos.waiting import wait_until
from orchestrator.config import Paths
from orchestrator.rows import insert_task
from orchestrator.store import TaskStore


def prepare_database(directory: Path, active_tasks: int) -> Path:
    """A base dir whose database holds `active_tasks` tasks in progress (set up directly, not timed)."""
    paths = Paths(directory)
    paths.root.mkdir(parents=True, exist_ok=True)
    store = TaskStore(paths.database)

    def fill(conn):
        for index in range(active_tasks):
            insert_task(conn, title=f"active task {index}", description="benchmark", status="in_progress",
                        specialist_role="implementer")

    store.write(fill)
    store.close()
    return directory


async def measure(base: Path, clients: int, restarts: int, early: bool) -> dict[str, list[float]]:
    extra = [] if early else ["--no-early-start"]
    totals: list[float] = []
    downtimes: list[float] = []
    async with http_orchestrator(base, extra) as orchestrator:
        async with orchestrator.client() as admin:
            while not (await call(admin, "orchestrator_health_check"))["healthy"]:
                await anyio.sleep(0.05)
            calls: list[tuple[float, float]] = []
            in_flight: dict[int, float] = {}  # client -> when its unanswered call began
            stop = anyio.Event()

            async def load(index: int) -> None:
                async with orchestrator.client() as client:
                    while not stop.is_set():
                        in_flight[index] = started = time.monotonic()
                        await call(client, "orchestrator_get_status")
                        calls.append((started, time.monotonic()))
                        del in_flight[index]

            async with anyio.create_task_group() as group:
                for index in range(clients):
                    group.start_soon(load, index)
                for _ in range(restarts):
                    began = time.monotonic()
                    result = await call(admin, "orchestrator_restart_server", {"timeout": 120})
                    ended = time.monotonic()
                    assert result["success"], result
                    totals.append(ended - began)
                    await wait_until(
                        lambda ended=ended: all(start >= ended for start in list(in_flight.values())),
                        60,
                        "every call that overlapped the restart to be answered",
                        interval_s=0.001,
                    )
                    overlapping = [end - start for start, end in calls if start < ended and end > began]
                    downtimes.append(max(overlapping, default=0.0))
                stop.set()
    return {"total_s": totals, "downtime_s": downtimes}


async def main(args: argparse.Namespace) -> None:
    work = Path(tempfile.mkdtemp(prefix="restart-bench-"))
    started = machine()
    rows: list[dict] = []
    try:
        print(f"{'tasks':>6} {'clients':>7} | {'early: total':>12} {'downtime':>9} | {'late: total':>11} {'downtime':>9} | {'downtime late/early':>19}")
        for tasks in args.tasks:
            template = prepare_database(work / f"template-{tasks}", tasks)
            for clients in args.clients:
                row = {}
                for early in (True, False):
                    base = work / f"run-{tasks}-{clients}-{early}"
                    shutil.copytree(template, base)
                    samples = await measure(base, clients, args.restarts, early)
                    row[early] = {name: median(values) for name, values in samples.items()}
                    rows.append({"tasks": tasks, "clients": clients, "early_start": early, **samples})
                ratio = row[False]["downtime_s"] / max(row[True]["downtime_s"], 1e-6)
                print(
                    f"{tasks:>6} {clients:>7} | {row[True]['total_s']:>11.3f}s {row[True]['downtime_s'] * 1000:>7.0f}ms |"
                    f" {row[False]['total_s']:>10.3f}s {row[False]['downtime_s'] * 1000:>7.0f}ms | {ratio:>18.1f}x",
                    flush=True,
                )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    save("restart", vars(args), rows, started)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    numbers = lambda text: [int(part) for part in text.split(",")]  # noqa: E731
    parser.add_argument("--restarts", type=int, default=5, help="restarts per configuration (median reported)")
    parser.add_argument("--tasks", type=numbers, default=[0, 1000, 10000], help="active task counts, comma-separated")
    parser.add_argument("--clients", type=numbers, default=[1, 20], help="client counts, comma-separated")
    return parser.parse_args()


if __name__ == "__main__":
    anyio.run(main, parse_args())

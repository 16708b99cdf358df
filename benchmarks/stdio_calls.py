"""What a tool call costs over stdio, for this tree and (with --baseline REF) a commit of it, side by side.

Both orchestrators run at once, each from its own tree (PYTHONPATH first), and are called in
interleaved rounds, so a burst of load on this shared machine hits both alike. It measured the hop
that orchestrator/supervisor/stdio_refusals.py adds to every stdio message (a relay that answers
lines the SDK cannot parse). Prints the median per call and the ratio; writes every sample to
reports/benchmarks/ (benchmarks.record).

    .venv/bin/python -m benchmarks.stdio_calls [--rounds 15] [--calls 40] [--baseline 2a614ef]
"""

from __future__ import annotations

import argparse
import sys
import time
from contextlib import AsyncExitStack
from pathlib import Path
from statistics import median

import anyio
from mcp import Client, StdioServerParameters

from benchmarks.baseline import trees_beside
from benchmarks.record import machine, save
from chaos.target.client import call, until_serving
from chaos.target.live.orchestrator import server_command, server_env

TOOL = "orchestrator_health_check"


def client_for(tree: Path, base: Path) -> Client:
    """A stdio client whose orchestrator imports from `tree`."""
    base.mkdir(parents=True, exist_ok=True)
    env = {**server_env(None), "PYTHONPATH": str(tree)}
    parameters = StdioServerParameters(command=sys.executable, args=server_command(base, [])[1:], env=env, cwd=str(base))
    return Client(parameters, cache=None)


async def measure(trees: dict[str, Path], scratch: Path, rounds: int, calls: int) -> dict[str, list[float]]:
    samples: dict[str, list[float]] = {name: [] for name in trees}
    async with AsyncExitStack() as stack:
        clients = {name: await stack.enter_async_context(client_for(tree, scratch / f"base-{index}"))
                   for index, (name, tree) in enumerate(trees.items())}  # fmt: skip
        for client in clients.values():
            await until_serving(client)
        for _ in range(rounds):
            for name, client in clients.items():
                started = time.perf_counter()
                for _ in range(calls):
                    await call(client, TOOL, {"include_database_status": False})
                samples[name].append(round((time.perf_counter() - started) / calls, 6))
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--calls", type=int, default=40, help="calls per round and tree")
    parser.add_argument("--baseline", metavar="REF", help="a commit to measure beside this tree")
    args = parser.parse_args()
    started = machine()
    with trees_beside(args.baseline) as (trees, scratch):
        samples = anyio.run(measure, trees, scratch, args.rounds, args.calls)
    medians = {name: median(values) for name, values in samples.items()}
    for name, value in medians.items():
        print(f"{name:<12} {value * 1000:8.3f} ms per {TOOL} over stdio (median of {args.rounds} rounds of {args.calls})")
    if args.baseline:
        print(f"ratio this tree / {args.baseline}: {medians['this tree'] / medians[args.baseline]:.3f}")
    save("stdio_calls", vars(args), samples, started)


if __name__ == "__main__":
    main()

"""What the scenario runner adds per step, against a bare SDK client making the same calls.

One live orchestrator, one client connection, the same calls both ways, in alternating rounds
so that drift (the machine warming up, the database growing) hits both sides alike:

- bare: `client.call_tool(...)` and reading the structured result, nothing else;
- runner: the same calls as scenario `call` steps through the engine (substitution, the call
  history, the journal, expectations checked, values saved).

Prints both per-call medians and the ratio of the totals; exits 1 if the runner adds more than
the budget (10%); every sample goes to reports/benchmarks/ (benchmarks.record).
Run: `.venv/bin/python -m benchmarks.runner_overhead [--rounds N] [--calls N]`.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import anyio

from benchmarks.record import machine, save
from chaos.engine.context import Run
from chaos.engine.steps import execute
from chaos.scenario import load_scenario
from chaos.target.client import structured
from chaos.target.live.target import LiveTarget

BUDGET = 1.10
CALLS = [  # tool, arguments, expectations, a field to save
    ("orchestrator_restart_status", {}, "current_status.phase: idle\n      current_status.maintenance_mode: false", "timestamp"),
    ("orchestrator_query_tasks", {"limit": 5}, "total: {range: {min: 1}}\n      has_more: {one_of: [true, false]}", "total"),
    ("orchestrator_get_status", {}, "counts.pending: {exists: true}", "total"),
]


def scenario_text(calls: int) -> str:
    steps = ["  - start: {tasks: 3}"]
    for index in range(calls):
        tool, args, expect, field = CALLS[index % len(CALLS)]
        steps.append(f"  - call: {tool}\n    args: {args}\n    expect:\n      {expect}\n    save: {{last: {field}}}")
    return (
        "name: runner-overhead\ndescription: benchmark\ncovers: {guide: [checklist.current-status]}\n"
        "invariants: false\nsteps:\n" + "\n".join(steps) + "\n"
    )


async def measure(rounds: int, calls: int) -> tuple[list[float], list[float]]:
    loaded = load_scenario(Path("runner-overhead.yaml"), scenario_text(calls))
    assert loaded.scenario is not None, loaded.problems
    steps = loaded.scenario.steps
    bare: list[float] = []
    runner: list[float] = []
    with tempfile.TemporaryDirectory(prefix="chaos-bench-") as root:
        run = Run(loaded, Path(root), LiveTarget())
        async with anyio.create_task_group() as group:
            run.background = group
            await execute(run, steps[0], ("steps", 0))
            client = run.server.clients[0]
            try:
                for _ in range(rounds):
                    for index, step in enumerate(steps[1:], 1):
                        started = time.perf_counter()
                        structured(await client.call_tool(step.call, dict(step.args)))
                        bare.append(time.perf_counter() - started)
                        started = time.perf_counter()
                        await execute(run, step, ("steps", index))
                        runner.append(time.perf_counter() - started)
            finally:
                await run.server.stop()
    return bare, runner


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=20, help="rounds of calls (default %(default)s)")
    parser.add_argument("--calls", type=int, default=15, help="calls per round (default %(default)s)")
    args = parser.parse_args(argv)
    started = machine()
    bare, runner = anyio.run(measure, args.rounds, args.calls)
    ratio = sum(runner) / sum(bare)
    print(f"calls each way:        {len(bare)} (same client, same server, interleaved)")
    print(f"bare SDK call, median: {statistics.median(bare) * 1000:.2f} ms")
    print(f"runner step, median:   {statistics.median(runner) * 1000:.2f} ms")
    print(f"per-step overhead:     {(statistics.median(runner) - statistics.median(bare)) * 1000:+.2f} ms (median)")
    print(f"ratio runner/bare:     {ratio:.3f}  (budget {BUDGET:.2f})")
    save("runner_overhead", vars(args), {"bare_s": bare, "runner_s": runner, "ratio": ratio, "budget": BUDGET}, started)
    return 0 if ratio <= BUDGET else 1


if __name__ == "__main__":
    sys.exit(main())

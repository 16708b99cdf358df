"""How long the harness's command line takes to start: `--help` and `validate scenarios/`, side by side
with the bare interpreter, for this tree and (with --baseline REF) a commit of it.

Both trees are measured in one run on one machine state (benchmarks.baseline). Prints medians and writes every sample to
reports/benchmarks/ (benchmarks.record).

    .venv/bin/python -m benchmarks.startup [--repeat 7] [--baseline 3d96ac1]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path
from statistics import median

from benchmarks.baseline import trees_beside
from benchmarks.record import machine, save

COMMANDS = {
    "python -c pass": ["-c", "pass"],
    "chaos --help": ["-m", "chaos", "--help"],
    "chaos validate scenarios/": ["-m", "chaos", "validate", "scenarios"],
}


def timed(arguments: list[str], tree: Path) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, *arguments], cwd=tree, env={**os.environ, "PYTHONPATH": str(tree)},
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)  # fmt: skip
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--baseline", metavar="REF", help="a commit to measure beside this tree")
    args = parser.parse_args()
    started = machine()
    with trees_beside(args.baseline) as (trees, _):
        samples = {tree: {name: [] for name in COMMANDS} for tree in trees}
        for _ in range(args.repeat):  # interleaved, so a burst of load hits every column alike
            for tree, path in trees.items():
                for name, arguments in COMMANDS.items():
                    samples[tree][name].append(round(timed(arguments, path), 4))
    print(f"{'median of ' + str(args.repeat):<28}" + "".join(f"{tree:>14}" for tree in trees))
    for name in COMMANDS:
        print(f"{name:<28}" + "".join(f"{median(samples[tree][name]):>13.3f}s" for tree in trees))
    save("startup", vars(args), samples, started)


if __name__ == "__main__":
    main()

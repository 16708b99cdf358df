"""`python -m chaos sweep`: fail (or crash) the 1st, 2nd, 3rd... I/O operation of a restart, in sim mode.

Prints a line per run as it ends, then a table (operation, kind, file, outcome, error code),
the restart's operations by kind, and the command replaying each bad run. Exit 0 if every run
was acceptable, 1 if not, 2 for bad arguments.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from collections import Counter
from pathlib import Path

from chaos.sweep.outcomes import SUCCESS
from chaos.sweep.runner import SweepConfig, SweepRun, default_workdir, run_one
from chaos.sweep.runner import sweep as run_sweep
from chaos.sweep.schedule import SQLITE_MESSAGES, Operation
from chaos.sweep.workload import VARIANTS
from orchestrator.faultpoints import IO_KINDS

EXIT_OK, EXIT_BAD = 0, 1  # argparse exits 2 for bad arguments
PROBLEM_LIMIT = 400  # characters of a problem in the summary (--only prints them whole)
ANSWER_FIELDS = ("success", "error_code", "error", "errors", "duration", "phase", "old_worker_pid", "new_worker_pid")


def _names(known: tuple[str, ...], what: str):
    def parse(value: str) -> tuple[str, ...]:
        names = tuple(name.strip() for name in value.split(",") if name.strip())
        unknown = [name for name in names if name not in known]
        if unknown or not names:
            raise argparse.ArgumentTypeError(f"unknown {what} {', '.join(unknown) or '(none given)'}; known: {', '.join(known)}")
        return names

    return parse


def configure_sweep(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--kinds", type=_names(IO_KINDS, "kind"), default=IO_KINDS, metavar="K1,K2",
                        help=f"count and fail only these operations (default: all of {','.join(IO_KINDS)})")
    parser.add_argument("--restart", type=_names(tuple(VARIANTS), "restart"), default=tuple(VARIANTS), metavar="R1,R2",
                        help="which restarts to sweep: graceful (state preserved), emergency (graceful=false), "
                        "no_state (preserve_state=false); default all")
    parser.add_argument("--errno", choices=sorted(SQLITE_MESSAGES), default="EIO",
                        help="how a failing operation fails (default EIO; a SQLite COMMIT gets SQLite's own message for it)")
    parser.add_argument("--crash", action="store_true",
                        help="end the process at each operation instead (the worker, or the supervisor and with it the "
                        "orchestrator, which is then started again on the files as the crash left them)")
    parser.add_argument("--seed", type=int, default=0, metavar="N", help="the seed of every random choice (default 0)")
    parser.add_argument("--only", type=int, metavar="N", help="run only the run that fails operation N (a replay), with details")
    parser.add_argument("--workdir", type=Path, metavar="DIR", help="where runs' directories go (default: /dev/shm if there is one, else the temp dir); bad runs' are kept")


def sweep(args: argparse.Namespace) -> int:
    """Fail the 1st, 2nd, 3rd... I/O operation of a restart until none is left; check every outcome."""
    previous = logging.root.manager.disable
    logging.disable(logging.CRITICAL)  # the orchestrator's logs of injected failures would drown the table
    try:
        return _sweep(args)
    finally:
        logging.disable(previous)


def _sweep(args: argparse.Namespace) -> int:
    config = SweepConfig(args.restart, args.kinds, args.errno, args.crash, args.seed, args.workdir or default_workdir())
    started = time.perf_counter()
    fault = "a crash" if config.crash else config.errno_name
    print(f"sweeping {', '.join(config.variants)} restart(s) with {fault} at each {'/'.join(config.kinds)} operation, seed {config.seed}")
    if args.only is not None:
        runs = [run_one(config, variant, args.only) for variant in config.variants]
        for run in runs:
            _progress(run)
            _details(run)
    else:
        runs = run_sweep(config, _progress)
    elapsed = time.perf_counter() - started
    print()
    print(_table(runs))
    print()
    _summary(config, runs, elapsed)
    return EXIT_OK if all(run.ok for run in runs) else EXIT_BAD


def _progress(run: SweepRun) -> None:
    where = f"#{run.nth} {_operation(run.struck)}" if run.struck else "nothing injected (baseline)"
    verdict = "ok" if run.ok else "BAD"
    print(f"[{run.variant}] {where}: {run.outcome}  {verdict}  ({run.seconds:.2f}s)", flush=True)


def _operation(operation: Operation) -> str:
    return f"{operation.kind} {operation.target} by {operation.origin}"


def _details(run: SweepRun) -> None:
    print("  operations counted:" + "".join(f"\n    #{op.number} {_operation(op)}" for op in run.operations) if run.operations else "  no operation counted")
    if run.answer is not None:
        shown = {key: run.answer.get(key) for key in ANSWER_FIELDS if run.answer.get(key) not in (None, [])}
        print(f"  restart answered: {json.dumps(shown)}")
    for problem in run.problems:
        print(f"  problem: {problem}")
    if run.kept:
        print(f"  files kept in {run.kept}")


def _shortened(text: str, limit: int = PROBLEM_LIMIT) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _table(runs: list[SweepRun]) -> str:
    header = ("restart", "op", "kind", "file", "by", "outcome", "error code", "verdict")
    rows = [
        (
            run.variant,
            str(run.nth) if run.struck else "-",
            run.struck.kind if run.struck else "(none)",
            run.struck.target if run.struck else "",
            run.struck.origin if run.struck else "",
            "failed" if run.outcome.startswith("RESTART_") else run.outcome,
            run.error_code or "",
            "ok" if run.ok else "BAD",
        )
        for run in runs
    ]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in [header, *rows]]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def _summary(config: SweepConfig, runs: list[SweepRun], elapsed: float) -> None:
    for run in runs:
        if run.struck is None:
            kinds = Counter(op.kind for op in run.operations)
            counted = ", ".join(f"{kinds[kind]} {kind}" for kind in IO_KINDS if kinds[kind])
            print(f"{run.variant} restart: {len(run.operations)} I/O operation(s): {counted or 'none'}")
    bad = [run for run in runs if not run.ok]
    outcomes = Counter("success" if run.outcome == SUCCESS else run.error_code or run.outcome for run in runs)
    print(f"{len(runs)} run(s) in {elapsed:.1f}s ({len(runs) / elapsed:.1f}/s): "
          + ", ".join(f"{count} {outcome}" for outcome, count in sorted(outcomes.items()))
          + f"; {len(bad)} bad")
    for run in bad:
        print(f"\nBAD [{run.variant}] run {run.nth}:")
        for problem in run.problems:
            print(f"  {_shortened(problem)}")
        print(f"  replay: {config.replay_command(run.variant, run.nth)}")
        if run.kept:
            print(f"  files: {run.kept}")

"""`python -m chaos explore`: generated fault schedules in sim mode, the first failure shrunk to YAML.

Registered in chaos.cli as a (configure, run) pair. hypothesis and the simulator are imported
only when the subcommand runs, so other subcommands start as fast as before.
"""

from __future__ import annotations

import argparse
import logging
import random
import shutil
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from chaos.engine.select import parse_shard  # the explore command is imported only when used

EXIT_CLEAN, EXIT_FOUND, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
PROGRESS_EVERY_S = 10.0


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def configure_explore(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seeds", type=_positive, default=100, metavar="N",
                        help="how many applicable schedules to run (default 100)")
    parser.add_argument("--seed", type=int, metavar="S",
                        help="the exploration's seed: the same seed draws the same schedules (default: a new one, printed)")
    parser.add_argument("--out", type=Path, metavar="DIR",
                        help="where a finding's scenario file goes (default: reports/explore-<UTC time>/)")
    parser.add_argument("--jobs", "-j", type=_positive, default=1, metavar="N",
                        help="explore on N cores: the searches --seed S, ..., --seed S+N-1 side by side, sharing out "
                        "the schedules; the first finding stops them all (default 1)")
    parser.add_argument("--max-steps", type=_positive, default=6, metavar="K",
                        help="at most K moves between the start and the final recovery (default 6)")
    parser.add_argument("--shard", type=parse_shard, metavar="K/N",
                        help="explore only the K-th of N parts (needs --seed): N CI jobs with --jobs J draw together "
                        "what one job with --jobs N*J would, job K the seeds S+(K-1)*J .. S+K*J-1")


class Progress:
    """A line every PROGRESS_EVERY_S seconds: schedules run, inapplicable, failing, runs per second."""

    def __init__(self) -> None:
        self.last = 0.0
        self.tally: Any = None  # the latest, for the summary of an interrupted exploration

    def __call__(self, tally: Any) -> None:
        self.tally = tally
        if tally.seconds - self.last >= PROGRESS_EVERY_S:
            self.last = tally.seconds
            print(f"  {_summary(tally)}", flush=True)


def _summary(tally: Any) -> str:
    shrinking = f", shrinking: {tally.runs - tally.explored} run(s)" if tally.failing else ""
    return (
        f"{tally.explored} schedule(s) run ({tally.inapplicable} inapplicable), {min(tally.failing, 1)} failing"
        f"{shrinking}; {tally.per_second:.2f} runs/s, {tally.seconds:.0f}s"
    )


def explore(args: argparse.Namespace) -> int:
    """Generate fault schedules, run them in sim mode, shrink the first failure to a scenario file.

    Each schedule's run must keep the invariants and end every restart as the guide documents for
    the moment. Exit status: 0 nothing found, 1 a finding (its file and replay command are printed),
    130 interrupted (Ctrl-C)."""
    from chaos.explore.finding import replay, replay_command, write_finding
    from chaos.explore.parallel import assigned, explore_in_parts
    from chaos.explore.run import run_schedule
    from chaos.explore.search import explore as search

    if args.shard and args.seed is None:
        print("error: --shard needs --seed: every shard must draw from the same seed", file=sys.stderr)
        return EXIT_USAGE
    logging.getLogger().addHandler(logging.NullHandler())  # the orchestrator's warnings are the point, not news
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(2**32)
    shard = args.shard or (1, 1)
    parts = assigned(args.seeds, args.jobs, shard)
    seeds = f"seeds {seed + parts[0][0]}..{seed + parts[-1][0]} side by side" if len(parts) > 1 else ""
    print(f"exploring {args.seeds} schedule(s) of up to {args.max_steps} move(s), seed {seed} (--seed {seed} draws them again)"
          + (f", on {len(parts)} cores: {seeds}" if seeds else ""))
    if args.shard:
        print(f"shard {shard[0]}/{shard[1]}: {sum(share for _, share in parts)} of them"
              + ("" if len(parts) != 1 else f", seed {seed + parts[0][0]}"))
    if not parts:
        print("nothing to explore in this shard: fewer schedules than parts")
        return EXIT_CLEAN
    workdir = Path(tempfile.mkdtemp(prefix="chaos-explore-"))
    progress = Progress()
    try:
        if len(parts) > 1:
            judged = lambda schedule, part_dir: run_schedule(schedule, part_dir).verdict  # noqa: E731
            exploration, total = explore_in_parts(seed, args.seeds, args.jobs, args.max_steps, judged, progress, workdir, shard)
        else:
            ((offset, share),) = parts
            exploration = search(seed + offset, share, args.max_steps, lambda schedule: run_schedule(schedule, workdir).verdict, progress)
            total = exploration.tally
        print(_summary(total))
        if exploration.note:
            print(exploration.note, file=sys.stderr)
        if exploration.schedule is None or exploration.verdict is None:
            print("nothing found: every restart ended as the guide documents, every invariant held")
            return EXIT_CLEAN
    except KeyboardInterrupt:
        print(f"interrupted: {_summary(progress.tally)}" if progress.tally else "interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    out = args.out or Path("reports") / f"explore-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}"
    path = write_finding(exploration, out)
    again = replay(path, exploration.schedule, out)  # its report names the file, and its files stay beside it
    same = again.signature == exploration.verdict.signature
    print()
    print(f"FOUND: {exploration.verdict.signature}" + (" (flaky: the shrunk schedule did not fail again)" if exploration.flaky else ""))
    print(again.report if same else exploration.verdict.report)
    print()
    print(f"scenario: {path}")
    print(f"replay:   {replay_command(path, exploration.schedule)}")
    print(f"replayed from the file: {'the same failure' if same else f'{again.outcome} {again.signature}'.strip()}")
    return EXIT_FOUND

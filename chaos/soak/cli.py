"""`python -m chaos soak`: workload, nemesis and checker, as Jepsen does it; a failure shrunk to YAML.

Registered in chaos.cli as a (configure, run) pair; the soak's modules are imported only when
the subcommand runs.
"""

from __future__ import annotations

import argparse
import logging
import shlex
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from chaos.target import DEFAULT_MODE, MODES

EXIT_PASSED, EXIT_FAILED, EXIT_INTERRUPTED = 0, 1, 130
PROGRESS_EVERY_S = {"live": 0.0, "sim": 5.0}  # live: a line per event; sim: a line every few seconds


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _share(text: str) -> float:
    value = float(text)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError("must be a share between 0 and 1 (0.001 is 0.1%)")
    return value


def configure_soak(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--mode", choices=MODES, default=DEFAULT_MODE,
                        help="live (default): real supervisor and worker processes, real signals, HTTP and stdio clients; "
                        "sim: the same code in this process on a virtual clock, replayed exactly by --seed")
    parser.add_argument("--events", type=_positive, default=30, metavar="N", help="how many nemesis events (default 30)")
    parser.add_argument("--clients", type=_positive, default=4, metavar="K", help="how many workload clients (default 4)")
    parser.add_argument("--seed", type=int, metavar="S",
                        help="draws the events, the workload's choices and (sim) everything else (default: a new one, printed)")
    parser.add_argument("--max-failed", type=_share, metavar="SHARE",
                        help="the largest share of workload calls that may fail, each with a code allowed at that moment "
                        "(default 0.001, i.e. 0.1%%)")
    parser.add_argument("--report", type=Path, metavar="DIR",
                        help="where journal.json, junit.xml, report.html and a failure's scenario file go "
                        "(default: reports/soak-<UTC time>/)")
    parser.add_argument("--no-shrink", action="store_true", help="on a failure, do not shrink it to a scenario file")


def soak(args: argparse.Namespace) -> int:
    """Run a workload and a nemesis against one orchestrator, then check the history against the database.

    K clients plan, execute, complete, update, cancel, archive and synthesize tasks and read them back,
    while the nemesis restarts the worker in every way (graceful, emergency, without state,
    error_recovery, two at once), kills it (serving, mid-hand-over, while it starts), stops and
    continues it, kills the whole orchestrator and starts it again on the same files, and injects
    faults of the registry around restarts. After each event the orchestrator must serve again. The
    checker reads the database after the run: nothing acknowledged lost, nothing applied twice,
    nothing answered as failed yet applied, no stale read, every failure with a documented error code
    allowed at that moment, and at most --max-failed of the calls failed. Exit status: 0 the checker
    passed, 1 it found something (a failure is shrunk to a scenario file, whose path is printed),
    130 interrupted (Ctrl-C)."""
    import random

    from chaos.report.journal import RunInfo
    from chaos.soak.checker import DEFAULT_MAX_FAILED
    from chaos.soak.report import write_soak_reports
    from chaos.soak.run import SoakOptions, run_soak
    from chaos.soak.shrink import shrink
    from chaos.target import make_target

    logging.getLogger().addHandler(logging.NullHandler())  # the orchestrator's warnings are the point, not news
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(2**16)
    max_failed = DEFAULT_MAX_FAILED if args.max_failed is None else args.max_failed
    options = SoakOptions(args.mode, args.events, args.clients, seed, max_failed)
    command = shlex.join(["python", "-m", "chaos", "soak", "--mode", args.mode, "--events", str(args.events),
                          "--clients", str(args.clients), "--seed", str(seed)])
    print(f"soak: {args.events} event(s), {args.clients} client(s), {args.mode} mode, seed {seed} (--seed {seed} draws it again)")
    out = args.report or Path("reports") / f"soak-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}"
    target = make_target(args.mode, seed)  # for the report's times: the run makes its own
    started = target.clock_start()
    try:
        result = run_soak(options, Progress(args.events, PROGRESS_EVERY_S[args.mode]))
    except KeyboardInterrupt:
        print("interrupted: every orchestrator the soak started was stopped", file=sys.stderr)
        return EXIT_INTERRUPTED
    info = RunInfo(command, started, target.elapsed(started, [result.scenario.duration_s]), target.name, target.seed)
    written = write_soak_reports(out, result, info)
    print(summary(result))
    print(f"report: {written['report.html']}  (junit.xml, journal.json beside it)")
    if result.passed:
        return EXIT_PASSED
    if not args.no_shrink:
        print("shrinking: which events does the failure need, without the workload?")
        found = shrink(result, out)
        print(found.text)
    return EXIT_FAILED


class Progress:
    """One line per event (live), or every few seconds (sim): events done, what the last did, calls so far."""

    def __init__(self, total: int, every_s: float):
        self.total = total
        self.every_s = every_s
        self.last = 0.0

    def __call__(self, done: int, outcome: Any, run: Any) -> None:
        now = time.monotonic()
        if outcome.outcome != "failed" and done < self.total and now - self.last < self.every_s:
            return
        self.last = now
        counts = run.history.counts()
        calls = sum(counts.values())
        ok = counts.get("ok", 0) / calls if calls else 1.0
        note = f": {outcome.message[:160]}" if outcome.message else ""
        print(f"  [{done}/{self.total}] {outcome.event.label:<30} {outcome.outcome:<12} calls {calls}, ok {ok:.1%}{note}", flush=True)


def summary(result: Any) -> str:
    soak = result.public()
    latency = soak["latency_s"]
    lines = [
        f"{'PASSED' if result.passed else 'FAILED'}: {soak['calls']} calls, {soak['acked']} acked, {soak['failed']} failed, "
        f"{soak['indeterminate']} indeterminate; availability {soak['availability']:.2%}",
        f"  lost {soak['lost']}, doubled {soak['doubled']}, phantom {soak['phantom']}, stale reads {soak['stale_read']}, "
        f"unknown tool {soak['unknown_tool']}, undocumented code {soak['undocumented_code']}, code not allowed {soak['code_not_allowed']}",
        f"  error codes: {soak['error_codes'] or 'none'}",
        f"  latency inside restart windows {latency['inside_restart_windows']}, outside {latency['outside_restart_windows']}",
        f"  nemesis: {len(result.events)} event(s), {sum(o.outcome == 'inapplicable' for o in result.events)} inapplicable, "
        f"{soak['nemesis_findings']} failed check(s); invariants broken: {soak['invariants_broken'] or 'none'}",
    ]
    lines += [f"  {finding['rule']}: call #{finding['call']}: {finding['detail']}" for finding in soak["findings"][:5]]
    lines += [f"  nemesis {outcome.event.label}: {outcome.message[:300]}" for outcome in result.nemesis_findings[:5]]
    return "\n".join(lines)

"""`python -m chaos run | validate | coverage`: the scenario subcommands of the harness's command line.

`add_subcommands(subparsers)` adds them to chaos.cli's parser; each sets `run` to a function of
the parsed arguments that returns the exit status, as chaos.cli expects.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from datetime import UTC
from pathlib import Path

import anyio

from chaos.coverage import from_journal, from_scenarios, matrix, render_text
from chaos.engine import RunOptions
from chaos.engine.batch import run_all
from chaos.engine.select import ExpressionError, select
from chaos.interrupt import interruptible
from chaos.journal import RunInfo
from chaos.report import default_directory, write_reports
from chaos.report.console import ConsoleReporter, summary_table
from chaos.scenario import Loaded, load_paths
from chaos.sim.clock import EPOCH
from chaos.sim.run import run_all_simulated

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_NOTHING = 0, 1, 2, 5
DEFAULT_PATHS = ["scenarios"]


def add_subcommands(subparsers: argparse._SubParsersAction) -> None:
    run = subparsers.add_parser(
        "run",
        help="Run scenarios against live orchestrators with real faults, or simulated (--mode sim).",
        description="Run scenario files (or every *.yaml under directories) against live orchestrators: each in its "
        "own directory and port, with real processes and faults. Shows progress and a summary table, and writes "
        "junit.xml, journal.json and report.html. Exit status: 0 all passed, 1 some failed, 2 invalid scenario "
        "files or arguments, 5 nothing selected.",
    )
    run.add_argument("paths", nargs="+", metavar="PATH", help="scenario files or directories")
    run.add_argument("--report", type=Path, metavar="DIR", help="where the reports go (default: reports/<UTC timestamp>/)")
    run.add_argument("-k", metavar="EXPR", dest="keyword", help="only scenarios matching EXPR: words matched against name, "
                     "file, tags, guide ids and error codes, combined with and/or/not (as pytest -k)")
    run.add_argument("--jobs", "-j", type=_positive, default=1, metavar="N", help="run up to N scenarios at once (default 1)")
    run.add_argument("--workdir", type=Path, metavar="DIR", help="make each scenario's directory here (default: the temp dir)")
    run.add_argument("--keep", action="store_true", help="keep the directories of passing scenarios too (failing ones always are)")
    run.add_argument("--quiet", "-q", action="store_true",
                     help="only the scenarios that did not pass or had a FALLBACK, and the progress line")
    run.add_argument("--verbose", "-v", action="store_true",
                     help="every step as it happens, prefixed by its scenario (by default a scenario's failed steps are "
                     "printed with its result, when it ends, so scenarios running at once do not interleave)")
    run.add_argument("--mode", choices=("live", "sim"), default="live",
                     help="live (default): real processes and faults; sim: supervisor and workers in this process on a "
                     "virtual clock, faults at fault points, runs in milliseconds and replays exactly from --seed "
                     "(scenarios that need real processes are skipped, with the reason)")
    run.add_argument("--require-real", action="store_true",
                     help="fail a scenario at any fault that falls back (a fault point, not the real thing; console and report say FALLBACK)")
    run.add_argument("--seed", type=int, metavar="N", help="sim mode: the seed of every random choice (default: each scenario's sim_seed, else 0)")
    run.set_defaults(run=cmd_run)

    validate = subparsers.add_parser(
        "validate",
        help="Check scenario files; report every problem at once, with file:line.",
        description="Check scenario files against the schema (scenarios/schema.json) and the story rules; every "
        "problem in every file is reported as file:line:column: what was expected. Exit status: 0 all valid, 1 "
        "some problem.",
    )
    validate.add_argument("paths", nargs="*", default=DEFAULT_PATHS, metavar="PATH", help="files or directories (default: scenarios)")
    validate.set_defaults(run=cmd_validate)

    coverage = subparsers.add_parser(
        "coverage",
        help="Which guide sections and error codes the scenarios assert.",
        description="List every item of the troubleshooting guide (chaos.guide ids) with the scenarios whose steps "
        "assert it (a step tagged with the item's id that asserts something; an error code expected exactly). With "
        "--journal, what the passing steps of a run asserted.",
    )
    coverage.add_argument("--journal", type=Path, metavar="FILE", help="a run's journal.json: count only what its passing steps asserted")
    coverage.add_argument("paths", nargs="*", default=DEFAULT_PATHS, metavar="PATH", help="files or directories (default: scenarios)")
    coverage.add_argument("--format", choices=("text", "json"), default="text", help="output format (default text)")
    coverage.add_argument("--fail-under", type=float, metavar="PERCENT", help="exit 1 if fewer than PERCENT of the items are covered")
    coverage.set_defaults(run=cmd_coverage)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _load(paths: list[str]) -> tuple[list[Loaded], int]:
    """Load and validate; print every problem to stderr; return the files and the problem count."""
    loaded, missing = load_paths(paths)
    problems = 0
    for path in missing:
        print(f"{path}: no such file or directory", file=sys.stderr)
        problems += 1
    if not loaded and not missing:
        print(f"no scenario files (*.yaml, *.yml) under {' '.join(paths)}", file=sys.stderr)
        problems += 1
    for item in loaded:
        for problem in item.problems:
            print(problem, file=sys.stderr)
            problems += 1
    return loaded, problems


def cmd_validate(args: argparse.Namespace) -> int:
    loaded, problems = _load(args.paths)
    bad = sum(1 for item in loaded if not item.ok)
    if problems:
        print(f"{problems} problem(s) in {bad} of {len(loaded)} file(s)", file=sys.stderr)
        return EXIT_FAILED
    print(f"{len(loaded)} scenario file(s) valid")
    return EXIT_OK


def cmd_coverage(args: argparse.Namespace) -> int:
    if args.journal is not None:
        try:
            evidence, problems = from_journal(json.loads(args.journal.read_text())), 0
        except (OSError, ValueError, KeyError, TypeError) as exc:
            print(f"{args.journal}: not a run's journal ({type(exc).__name__}: {exc})", file=sys.stderr)
            return EXIT_FAILED
    else:
        loaded, problems = _load(args.paths)
        evidence = from_scenarios([item.scenario for item in loaded if item.scenario is not None])
    report = matrix(evidence)
    print(json.dumps(report, indent=2) if args.format == "json" else render_text(report))
    if problems:
        print(f"{problems} problem(s): invalid files are not counted; fix them (python -m chaos validate)", file=sys.stderr)
        return EXIT_FAILED
    if args.fail_under is not None and report["summary"]["percent"] < args.fail_under:
        print(f"coverage {report['summary']['percent']}% is under {args.fail_under}%", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


def cmd_run(args: argparse.Namespace) -> int:
    loaded, problems = _load(args.paths)
    if problems:
        print(f"{problems} problem(s) in the scenario files: nothing was run (python -m chaos validate shows them)", file=sys.stderr)
        return EXIT_USAGE
    try:
        selected = select(loaded, args.keyword)
    except ExpressionError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if not selected:
        print(f"no scenario matches -k {args.keyword!r} ({len(loaded)} found)", file=sys.stderr)
        return EXIT_NOTHING
    command = _command_line(args)
    started = time.time()
    names = [item.scenario.name for item in selected]
    reporter = ConsoleReporter.for_run(names, args.mode, args.jobs, None, args.quiet, args.verbose, sys.stdout)
    options = RunOptions(workdir=args.workdir, keep=args.keep, mode=args.mode, seed=args.seed, require_real=args.require_real)
    try:
        if args.mode == "sim":
            seeds = "each scenario's own seed" if args.seed is None else f"seed {args.seed}"
            print(f"simulating {len(selected)} scenario(s), {seeds}")
            results = run_all_simulated(selected, options, reporter)
        else:
            print(f"running {len(selected)} scenario(s), {args.jobs} at a time")
            results = anyio.run(interruptible, run_all, selected, args.jobs, options, reporter)
    except KeyboardInterrupt:
        print("interrupted: every orchestrator this run started was stopped", file=sys.stderr)
        return 130
    finally:
        reporter.close()
    print()
    print(summary_table(results))
    for result in results:
        if result.outcome == "skipped":
            print()
            print(f"SKIPPED {result.name} ({result.file}): " + "; ".join(note["text"] for note in result.journal["notes"]))
        elif not result.passed:
            print()
            print(result.report())
    if args.mode == "sim":  # times of the simulation, so that the same seed writes the same journal
        info = RunInfo(command, EPOCH.replace(tzinfo=UTC).timestamp(), sum(r.duration_s for r in results), "sim", args.seed)
    else:
        info = RunInfo(command, started, time.time() - started)
    written = write_reports(args.report or default_directory(), results, info)
    print()
    print(f"report: {written['report.html']}  (junit.xml, journal.json beside it)")
    return EXIT_OK if all(result.outcome in ("passed", "skipped") for result in results) else EXIT_FAILED


def _command_line(args: argparse.Namespace) -> str:
    words = ["python", "-m", "chaos", "run", *args.paths]
    if args.keyword:
        words += ["-k", args.keyword]
    if args.jobs != 1:
        words += ["--jobs", str(args.jobs)]
    if args.mode == "sim":
        words += ["--mode", "sim"] + ([] if args.seed is None else ["--seed", str(args.seed)])
    if args.require_real:
        words.append("--require-real")
    return shlex.join(words)

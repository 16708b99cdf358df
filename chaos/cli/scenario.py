"""`python -m chaos run | validate | coverage | report`: the scenario subcommands of the harness's command line.

Each is a (configure_<name>, <name>) pair, registered in chaos.cli's SUBCOMMANDS. Each function
imports what it needs itself, so `--help` and `validate` start without the engine, the simulator and mcp.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from chaos.target import DEFAULT_MODE, MODES

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_NOTHING = 0, 1, 2, 5
DEFAULT_PATHS = ["scenarios"]


def add_format(parser: argparse.ArgumentParser) -> None:
    """`--format text|json`, the same on every subcommand that reports something."""
    parser.add_argument("--format", choices=("text", "json"), default="text",
                        help="text (default) or json: one JSON document on stdout, everything else on stderr")


def configure_run(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="+", metavar="PATH", help="scenario files or directories")
    parser.add_argument("--report", type=Path, metavar="DIR", help="where the reports go (default: reports/<UTC timestamp>/)")
    parser.add_argument("-k", metavar="EXPR", dest="keyword", help="only scenarios matching EXPR: words matched against name, "
                        "file, tags, guide ids and error codes, combined with and/or/not (as pytest -k)")
    parser.add_argument("--shard", type=shard_argument, metavar="K/N",
                        help="run only the K-th of N parts of the selection (K from 1), for N CI jobs: parts of about equal "
                        "expected time, the same in every job, each scenario in exactly one (merge the reports with "
                        "'python -m chaos report merge')")
    parser.add_argument("--durations", type=Path, metavar="JOURNAL",
                        help="a journal.json of an earlier run: the expected time of each scenario, for --shard and the "
                        "start order (default for --shard: the sizes of the scenario files)")
    parser.add_argument("-x", "--exitfirst", dest="maxfail", action="store_const", const=1, help="same as --maxfail 1")
    parser.add_argument("--maxfail", type=_positive, metavar="N",
                        help="start no more scenarios after N failed (those running finish; the rest are reported not run)")
    parser.add_argument("--jobs", "-j", type=_positive, default=1, metavar="N", help="run up to N scenarios at once (default 1)")
    parser.add_argument("--workdir", type=Path, metavar="DIR", help="make each scenario's directory here (default: the temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the directories of passing scenarios too (failing ones always are)")
    parser.add_argument("--quiet", "-q", action="store_true",
                        help="only the scenarios that did not pass or had a FALLBACK, and the progress line")
    parser.add_argument("--verbose", "-v", action="store_true",
                        help="every step as it happens, prefixed by its scenario (by default a scenario's failed steps are "
                        "printed with its result, when it ends, so scenarios running at once do not interleave)")
    parser.add_argument("--mode", choices=MODES, default=DEFAULT_MODE,
                        help="live (default): real processes and faults; sim: supervisor and workers in this process on a "
                        "virtual clock, faults at fault points, runs in milliseconds and replays exactly from --seed "
                        "(scenarios that need real processes are skipped, with the reason)")
    parser.add_argument("--require-real", action="store_true",
                        help="fail a scenario at any fault that falls back (a fault point, not the real thing; console and report say FALLBACK)")
    parser.add_argument("--seed", type=int, metavar="N", help="sim mode: the seed of every random choice (default: each scenario's sim_seed, else 0)")
    add_format(parser)


def configure_validate(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="*", default=DEFAULT_PATHS, metavar="PATH", help="files or directories (default: scenarios)")
    add_format(parser)


def configure_coverage(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--journal", type=Path, metavar="FILE", help="a run's journal.json: count only what its passing steps asserted")
    parser.add_argument("paths", nargs="*", default=DEFAULT_PATHS, metavar="PATH", help="files or directories (default: scenarios)")
    add_format(parser)
    parser.add_argument("--fail-under", type=float, metavar="PERCENT", help="exit 1 if fewer than PERCENT of the items are covered")


def configure_report(parser: argparse.ArgumentParser) -> None:
    parser.usage = "python -m chaos report DIR [--out DIR]\n       python -m chaos report merge DIR... --out DIR"
    parser.add_argument("directories", nargs="+", metavar="DIR")
    parser.add_argument("--out", type=Path, metavar="DIR", help="where to write (merge: required; default: DIR itself)")
    add_format(parser)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def shard_argument(text: str) -> tuple[int, int]:
    """`--shard K/N` for argparse (chaos.engine.select.parse_shard, imported when used)."""
    from chaos.engine.select import parse_shard

    return parse_shard(text)


def _emit(document: Any) -> None:
    print(json.dumps(document, indent=2))


def _problems(paths: list[str]) -> tuple[list[Any], list[dict[str, Any]]]:
    """Load and validate: the files, and every problem as {file, line, column, message} (line and
    column None for a problem of the file as a whole)."""
    from chaos.scenario import load_paths

    loaded, missing = load_paths(paths)
    problems = [{"file": path, "line": None, "column": None, "message": "no such file or directory"} for path in missing]
    if not loaded and not missing:
        problems.append({"file": " ".join(paths), "line": None, "column": None, "message": "no scenario files (*.yaml, *.yml)"})
    problems += [vars(problem) for item in loaded for problem in item.problems]
    return loaded, problems


def _problem_text(problem: dict[str, Any]) -> str:
    where = problem["file"] if problem["line"] is None else f"{problem['file']}:{problem['line']}:{problem['column']}"
    return f"{where}: {problem['message']}"


def _load(paths: list[str]) -> tuple[list[Any], int]:
    """Load and validate; print every problem to stderr; return the files and the problem count."""
    loaded, problems = _problems(paths)
    for problem in problems:
        print(_problem_text(problem), file=sys.stderr)
    return loaded, len(problems)


def validate(args: argparse.Namespace) -> int:
    """Check scenario files; report every problem at once, with file:line.

    Every file is checked against the schema (scenarios/schema.json) and the story rules; every problem
    in every file is reported as file:line:column: what was expected. Exit status: 0 all valid, 1 some
    problem.
    """
    if args.format == "json":
        loaded, problems = _problems(args.paths)
        _emit({"files": len(loaded), "valid": sum(item.ok for item in loaded), "problems": problems})
        return EXIT_FAILED if problems else EXIT_OK
    loaded, count = _load(args.paths)
    bad = sum(1 for item in loaded if not item.ok)
    if count:
        print(f"{count} problem(s) in {bad} of {len(loaded)} file(s)", file=sys.stderr)
        return EXIT_FAILED
    print(f"{len(loaded)} scenario file(s) valid")
    return EXIT_OK


def coverage(args: argparse.Namespace) -> int:
    """Which guide sections and error codes the scenarios assert.

    Every item of the troubleshooting guide (chaos.guide.catalogue ids), with the scenarios whose steps
    assert it (a step tagged with the item's id that asserts something; an error code expected exactly).
    With --journal, what the passing steps of a run asserted.
    """
    from chaos.guide.coverage import from_journal, from_scenarios, matrix, render_text

    if args.journal is not None:
        try:
            evidence, problems = from_journal(json.loads(args.journal.read_text())), 0
        except (OSError, ValueError, KeyError, TypeError) as exc:
            print(f"{args.journal}: not a run's journal ({type(exc).__name__}: {exc})", file=sys.stderr)
            return EXIT_FAILED
    else:
        loaded, problems = _load(args.paths)
        evidence = from_scenarios([item.scenario for item in loaded if item.scenario is not None])
    table = matrix(evidence)
    if args.format == "json":
        _emit(table)
    else:
        print(render_text(table))
    if problems:
        print(f"{problems} problem(s): invalid files are not counted; fix them (python -m chaos validate)", file=sys.stderr)
        return EXIT_FAILED
    if args.fail_under is not None and table["summary"]["percent"] < args.fail_under:
        print(f"coverage {table['summary']['percent']}% is under {args.fail_under}%", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


def _choose(args: argparse.Namespace, loaded: list[Any], out: Any) -> tuple[list[Any] | None, dict[str, float] | None]:
    """The scenarios to run (-k, then --shard) and the durations to order them by; None: nothing, said why."""
    from chaos.engine.batch import journal_durations
    from chaos.engine.select import ExpressionError, expected_seconds, select, shard

    try:
        selected = select(loaded, args.keyword)
        durations = journal_durations(args.durations) if args.durations else None
    except ExpressionError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return None, None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        print(f"error: --durations {args.durations}: not a run's journal ({type(exc).__name__}: {exc})", file=sys.stderr)
        return None, None
    if not selected:
        print(f"no scenario matches -k {args.keyword!r} ({len(loaded)} found)", file=sys.stderr)
        return [], durations
    if args.shard:
        part, parts = args.shard
        mine = shard(selected, part, parts, durations or {})
        weights = dict(zip((item.scenario.name for item in selected), expected_seconds(selected, durations or {}), strict=True))
        unit = "s" if durations else " bytes"
        print(f"shard {part}/{parts}: {len(mine)} of {len(selected)} scenario(s), expected "
              f"{sum(weights[item.scenario.name] for item in mine):.0f}{unit} of {sum(weights.values()):.0f}{unit} "
              f"(from {args.durations or 'the file sizes: no --durations'})", file=out)
        if not mine:
            print(f"shard {part}/{parts} is empty: {len(selected)} scenario(s) for {parts} shards", file=sys.stderr)
        selected = mine
    return selected, durations


def run(args: argparse.Namespace) -> int:
    """Run scenarios against live orchestrators with real faults, or simulated (--mode sim).

    Scenario files (or every *.yaml under directories) run each in its own directory and port, with
    real processes and faults. Shows progress and a summary table, and writes junit.xml, journal.json
    and report.html. Exit status: 0 all passed, 1 some failed, 2 invalid scenario files or arguments,
    5 nothing selected.
    """
    from chaos.engine import RunOptions
    from chaos.engine.batch import recorded_durations, run_many
    from chaos.report import default_directory, write_reports
    from chaos.report.console import ConsoleReporter, summary_table
    from chaos.report.journal import RunInfo
    from chaos.target import make_target, target_type

    out = sys.stderr if args.format == "json" else sys.stdout  # stdout holds only the JSON summary
    loaded, problems = _load(args.paths)
    if problems:
        print(f"{problems} problem(s) in the scenario files: nothing was run (python -m chaos validate shows them)", file=sys.stderr)
        return EXIT_USAGE
    selected, durations = _choose(args, loaded, out)
    if selected is None:
        return EXIT_USAGE
    if not selected:
        return EXIT_NOTHING
    command = _command_line(args)
    if args.seed is not None and not target_type(args.mode).replayable:
        print(f"error: --seed replays a simulated run; a {args.mode} run cannot be replayed (add --mode sim)", file=sys.stderr)
        return EXIT_USAGE
    target = make_target(args.mode, args.seed)
    started = target.clock_start()
    names = [item.scenario.name for item in selected]
    kind = target_type(args.mode)
    jobs = args.jobs if kind.concurrent else 1
    expected = (durations if durations is not None else recorded_durations()) if kind.real_time else {}
    reporter = ConsoleReporter.for_run(names, jobs, expected, args.quiet, args.verbose, out)
    options = RunOptions(workdir=args.workdir, keep=args.keep, mode=args.mode, seed=args.seed, require_real=args.require_real)
    try:
        seeds = "" if kind.real_time else ", each scenario's own seed" if args.seed is None else f", seed {args.seed}"
        print(f"running {len(selected)} scenario(s) on the {kind.name} target, {jobs} at a time{seeds}", file=out)
        results = run_many(selected, jobs, options, reporter, durations, args.maxfail)
    except KeyboardInterrupt:
        print("interrupted: every orchestrator this run started was stopped", file=sys.stderr)
        return 130
    finally:
        reporter.close()
    print(file=out)
    print(summary_table(results), file=out)
    for result in results:
        if result.outcome == "skipped":
            print(file=out)
            print(f"SKIPPED {result.name} ({result.file}): " + "; ".join(note["text"] for note in result.journal["notes"]), file=out)
        elif not result.passed:
            print(file=out)
            print(result.report(), file=out)
    ran = {result.name for result in results}
    not_run = [item.scenario.name for item in selected if item.scenario.name not in ran]
    if not_run:
        print(f"\nstopped after {args.maxfail} failure(s) (--maxfail): {len(not_run)} scenario(s) not run", file=out)
    info = RunInfo(command, started, target.elapsed(started, [r.duration_s for r in results]), target.name, args.seed)
    written = write_reports(args.report or default_directory(), results, info)
    print(file=out)
    print(f"report: {written['report.html']}  (junit.xml, journal.json beside it)", file=out)
    if args.format == "json":
        _emit(_summary(command, results, not_run, written["report.html"].parent))
    return EXIT_OK if all(result.outcome in ("passed", "skipped") for result in results) else EXIT_FAILED


def _summary(command: str, results: list[Any], not_run: list[str], directory: Path) -> dict[str, Any]:
    """`run --format json`: the totals, each scenario's outcome, first failure and reproduce command."""
    from chaos.report.merge import outcome_totals

    return {
        "command": command,
        "totals": {**outcome_totals([result.outcome for result in results]), "not_run": len(not_run)},
        "report": str(directory),
        "scenarios": [
            {
                "name": result.name,
                "file": result.file,
                "outcome": result.outcome,
                "duration_s": result.duration_s,
                "failure": result.failures[0].headline() if result.failures else None,
                "reproduce": result.reproduce,
            }
            for result in results
        ],
        "not_run": not_run,
    }


def report(args: argparse.Namespace) -> int:
    """Render a run's junit.xml and report.html again from its journal.json, or merge the runs of shards.

    'report DIR' writes DIR/junit.xml and DIR/report.html again from DIR/journal.json (or into --out).
    'report merge DIR... --out DIR' merges the journals of shards (chaos run --shard K/N) into one
    journal.json, junit.xml and report.html, totals counted over all; a scenario found in two of them
    is an error. (A report directory named 'merge' is written ./merge.) Exit status: 0 all passed, 1
    some failed, 2 unreadable or overlapping journals.
    """
    from chaos.report.merge import JournalError, merge, outcome_totals, regenerate

    words = args.directories
    merging = words[0] == "merge"
    if merging and (len(words) < 2 or args.out is None):
        print("error: report merge DIR... --out DIR: at least one DIR, and --out", file=sys.stderr)
        return EXIT_USAGE
    if not merging and len(words) != 1:
        print(f"error: report DIR takes one directory, got {len(words)} (to merge shards: report merge DIR... --out DIR)", file=sys.stderr)
        return EXIT_USAGE
    out = sys.stderr if args.format == "json" else sys.stdout
    try:
        if merging:
            results, written = merge([Path(word) for word in words[1:]], args.out)
        else:
            results, written = regenerate(Path(words[0]), args.out or Path(words[0]))
    except JournalError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    totals = outcome_totals([result.outcome for result in results])
    print(", ".join(f"{count} {outcome}" for outcome, count in totals.items() if count) or "no scenarios", file=out)
    print(f"report: {written['report.html']}  ({', '.join(sorted(name for name in written if name != 'report.html'))} beside it)", file=out)
    if args.format == "json":
        _emit({"totals": totals, "written": {name: str(path) for name, path in written.items()}})
    return EXIT_OK if not totals["failed"] and not totals["error"] else EXIT_FAILED


def _command_line(args: argparse.Namespace) -> str:
    from chaos.engine.failure import chaos_command

    words = ["run", *args.paths]
    if args.keyword:
        words += ["-k", args.keyword]
    if args.shard:
        words += ["--shard", "/".join(map(str, args.shard))]
    if args.durations:
        words += ["--durations", str(args.durations)]
    if args.jobs != 1:
        words += ["--jobs", str(args.jobs)]
    if args.mode != DEFAULT_MODE:
        words += ["--mode", args.mode]
    if args.seed is not None:
        words += ["--seed", str(args.seed)]
    if args.require_real:
        words.append("--require-real")
    return chaos_command(*words)

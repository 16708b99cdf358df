"""`python -m chaos runbook RUNBOOK.md --incident SCENARIO.yaml [--report DIR]`: the command.

Exit status: 0 every block ran as the runbook intends and recovery holds; 1 it does not (the
verdict names the block or the check); 2 the runbook or the incident cannot be run as written.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from pathlib import Path

from chaos.engine import RunOptions, run_one
from chaos.report import default_directory, write_reports
from chaos.report.console import VERBOSE, ConsoleReporter
from chaos.report.journal import RunInfo
from chaos.runbook import markdown, plan
from chaos.runbook.verdict import Verdict, judge, write_report
from chaos.scenario import load_scenario

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def configure_runbook(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("runbook", type=Path, metavar="RUNBOOK.md", help="a Markdown runbook whose fenced bash/sh/python blocks are the procedure")
    parser.add_argument("--incident", type=Path, required=True, metavar="SCENARIO.yaml", help="the incident it answers: its steps set the incident up, its finally steps are what must hold once recovered")
    parser.add_argument("--report", type=Path, metavar="DIR", help="where runbook.md (the verdict, block by block, beside the phase timeline), report.html and the run's scenario go (default: reports/<UTC time>/)")
    parser.add_argument("--workdir", type=Path, metavar="DIR", help="make the run's directory here (default: the temp dir)")
    parser.add_argument("--quiet", "-q", action="store_true", help="no line per step")
    parser.epilog = (
        "Blocks: ```bash / sh run with /bin/sh in the incident's directory ($ORCH_BASE_DIR, $ORCH_URL, ...; `python` is the "
        "harness's interpreter; `pkill` reaches only this run's processes); ```python runs with every orchestrator tool as an "
        "awaitable function (await orchestrator_health_check()); a block holding only `python -m mcp_task_orchestrator.server` "
        "starts the run's server. A block expects exit status 0 unless its info string or a comment says otherwise: "
        "```bash exit=1, exit=any, timeout=SECONDS, skip; # expect: exit 1, # expect: output contains TEXT, "
        "# expect: output matches REGEX. See docs/incidents.md."
    )


def runbook(args: argparse.Namespace) -> int:
    """Run a Markdown runbook against an incident scenario and say, block by block, whether it recovers the system."""
    report = args.report or default_directory()
    try:
        verdict = run_runbook(args.runbook, args.incident, report, args.workdir, quiet=args.quiet)
    except (markdown.RunbookError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("interrupted: every orchestrator this run started was stopped", file=sys.stderr)
        return 130
    if verdict is None:
        return EXIT_USAGE
    for block in verdict.blocks:
        print(f"  block {block.number:>2} line {block.line:>4} {block.language:<6} {block.outcome:<8} {block.title}")
    print(("RECOVERED: " if verdict.recovered else "NOT RECOVERED: ") + verdict.summary)
    print(f"report: {report / 'runbook.md'}  (report.html, runbook.json and the run's scenario beside it)")
    return EXIT_OK if verdict.recovered else EXIT_FAILED


def run_runbook(runbook_path: Path, incident_path: Path, report: Path, workdir: Path | None = None, quiet: bool = True) -> Verdict | None:
    """Run it; None (with the problems printed) if the incident does not validate."""
    blocks = markdown.parse(runbook_path.read_text(), runbook_path.name)
    incident = load_scenario(incident_path)
    if not incident.ok:
        print("\n".join(str(p) for p in incident.problems), file=sys.stderr)
        print(f"{incident_path}: the incident does not validate (python -m chaos validate); nothing was run", file=sys.stderr)
        return None
    if not any(block.runs for block in blocks):
        raise markdown.RunbookError(f"{runbook_path}: no ```bash, ```sh or ```python block to run")
    files = report / "blocks"
    files.mkdir(parents=True, exist_ok=True)
    combined = plan.scenario(incident, blocks, runbook_path.name, files.resolve())
    scenario_path = report / "runbook-run.yaml"
    plan.write(combined, scenario_path)
    loaded = load_scenario(scenario_path)
    if not loaded.ok:
        print("\n".join(str(p) for p in loaded.problems), file=sys.stderr)
        raise markdown.RunbookError(f"{scenario_path}: the runbook's scenario does not validate (the problems are above)")
    started = time.time()
    reporter = None if quiet else ConsoleReporter(1, verbosity=VERBOSE)
    result = run_one(loaded, RunOptions(workdir=workdir), reporter)
    command = shlex.join(["python", "-m", "chaos", "runbook", str(runbook_path), "--incident", str(incident_path)])
    write_reports(report, [result], RunInfo(command, started, time.time() - started))
    verdict = judge(result, blocks, runbook_path.name)
    write_report(verdict, report, runbook_path.name, incident_path.name)
    return verdict


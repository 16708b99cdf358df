"""`python -m chaos`: the harness's command line, one subcommand per function.

A subcommand is a `configure_<name>(parser)` that declares its arguments and a `<name>(args)`
that runs it and returns the exit status; `SUBCOMMANDS` lists them. Adding one is adding a pair;
`lazy(module, name)` makes the pair of a module that is slow to import (mcp, the orchestrator),
imported only when its subcommand is used, so that `--help` and the light subcommands start fast.
"""

from __future__ import annotations

import argparse
import ast
import importlib
import sys
from collections.abc import Callable
from pathlib import Path

from chaos.cli import faults, scenario
from orchestrator import __version__

Configure = Callable[[argparse.ArgumentParser], None]
Run = Callable[[argparse.Namespace], int]


def lazy(module: str, name: str) -> tuple[Configure, Run]:
    """The (configure, run) pair of `module`, imported when the subcommand is used; the help's line
    comes from the run function's docstring, read from the source without importing it."""

    def configure(parser: argparse.ArgumentParser) -> None:
        getattr(importlib.import_module(module), f"configure_{name}")(parser)

    def run(args: argparse.Namespace) -> int:
        return getattr(importlib.import_module(module), name)(args)

    source = Path(__file__).resolve().parents[2].joinpath(*module.split(".")).with_suffix(".py")
    function = next(node for node in ast.parse(source.read_text()).body if isinstance(node, ast.FunctionDef) and node.name == name)
    run.__doc__ = ast.get_docstring(function)
    return configure, run


SUBCOMMANDS: dict[str, tuple[Configure, Run]] = {
    "faults": (faults.configure_faults, faults.faults),
    "sweep": lazy("chaos.sweep.cli", "sweep"),
    "explore": lazy("chaos.explore.cli", "explore"),
    "incident": lazy("chaos.incident.cli", "incident"),
    "runbook": lazy("chaos.runbook.cli", "runbook"),
    "soak": lazy("chaos.soak.cli", "soak"),
    "run": (scenario.configure_run, scenario.run),
    "validate": (scenario.configure_validate, scenario.validate),
    "coverage": (scenario.configure_coverage, scenario.coverage),
    "report": (scenario.configure_report, scenario.report),
}


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The parser; given the command line, it declares the arguments of the subcommand it names only
    (the others are listed, not imported)."""
    parser = argparse.ArgumentParser(prog="python -m chaos", description="The chaos harness of the task orchestrator.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    chosen = None if argv is None else next((word for word in argv if not word.startswith("-")), "")
    for name, (configure, run) in SUBCOMMANDS.items():
        sub = commands.add_parser(name, help=(run.__doc__ or "").strip().splitlines()[0], description=run.__doc__)
        if chosen in (None, name):
            configure(sub)
        sub.set_defaults(run=run)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser(argv).parse_args(argv)
    return args.run(args)

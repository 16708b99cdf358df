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
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from chaos.explore.cli import configure_explore, explore
from chaos.guide import BY_ID
from chaos.scenario_cli import add_format, add_subcommands
from orchestrator import __version__


def configure_faults(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("names", nargs="*", metavar="NAME", help="only these faults (default: all)")
    add_format(parser)
    parser.add_argument("--json", dest="format", action="store_const", const="json", help="the same as --format json (kept for scripts)")


def faults(args: argparse.Namespace) -> int:
    """List the faults: parameters, guide sections, expected error codes, mechanism and fallback."""
    from chaos import faults as fault_registry

    entries = fault_registry.catalogue()
    unknown = sorted(set(args.names) - {entry["name"] for entry in entries})
    if unknown:
        print(f"error: unknown fault(s) {', '.join(unknown)}; known: {', '.join(sorted(fault_registry.FAULTS))}", file=sys.stderr)
        return 2
    chosen = [entry for entry in entries if not args.names or entry["name"] in args.names]
    if args.format == "json":
        print(json.dumps(chosen, indent=2))
        return 0
    print("\n\n".join(_fault_text(entry) for entry in chosen))
    return 0


def _fault_text(entry: dict[str, Any]) -> str:
    lines = [
        f"{entry['name']}: {entry['summary']}",
        f"  expected error codes: {', '.join(entry['expected_error_codes']) or 'none (the restart succeeds)'}",
        "  guide sections:",
        *(f"    {section}  {BY_ID[section].title}" for section in entry["guide_sections"]),
        f"  mechanism: {entry['mechanism']}",
        f"  fallback:  {entry['fallback'] or 'none'}",
        "  parameters:" if entry["parameters"] else "  parameters: none",
        *(f"    {name}: {_parameter_text(schema)}" for name, schema in entry["parameters"].items()),
    ]
    return "\n".join(lines)


def _parameter_text(schema: dict[str, Any]) -> str:
    text = _type_text(schema)
    text += f" (default {json.dumps(schema['default'])})" if "default" in schema else " (required)"
    if schema.get("description"):
        text += f": {schema['description']}"
    return text


def _type_text(schema: dict[str, Any]) -> str:
    if "anyOf" in schema:
        return " | ".join(_type_text(option) for option in schema["anyOf"])
    if "enum" in schema:
        return "|".join(str(value) for value in schema["enum"])
    if "const" in schema:
        return json.dumps(schema["const"])
    bounds = [
        f"{symbol} {schema[key]}"
        for key, symbol in (("exclusiveMinimum", ">"), ("minimum", ">="), ("maximum", "<="), ("exclusiveMaximum", "<"))
        if key in schema
    ]
    return schema.get("type", "any") + (f" ({', '.join(bounds)})" if bounds else "")


Configure = Callable[[argparse.ArgumentParser], None]
Run = Callable[[argparse.Namespace], int]


def lazy(module: str, name: str) -> tuple[Configure, Run]:
    """The (configure, run) pair of `module`, imported when the subcommand is used; the help's line
    comes from the run function's docstring, read from the source without importing it."""

    def configure(parser: argparse.ArgumentParser) -> None:
        getattr(importlib.import_module(module), f"configure_{name}")(parser)

    def run(args: argparse.Namespace) -> int:
        return getattr(importlib.import_module(module), name)(args)

    source = Path(__file__).resolve().parent.parent.joinpath(*module.split(".")).with_suffix(".py")
    function = next(node for node in ast.parse(source.read_text()).body if isinstance(node, ast.FunctionDef) and node.name == name)
    run.__doc__ = ast.get_docstring(function)
    return configure, run


SUBCOMMANDS: dict[str, tuple[Configure, Run]] = {
    "faults": (configure_faults, faults),
    "sweep": lazy("chaos.sweep.cli", "sweep"),
    "explore": (configure_explore, explore),
    "incident": lazy("chaos.incident.cli", "incident"),
    "runbook": lazy("chaos.runbook.cli", "runbook"),
    "soak": lazy("chaos.soak.cli", "soak"),
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
    add_subcommands(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser(argv).parse_args(argv)
    return args.run(args)

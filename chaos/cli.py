"""`python -m chaos`: the harness's command line, one subcommand per function.

A subcommand is a `configure_<name>(parser)` that declares its arguments and a `<name>(args)`
that runs it and returns the exit status; `SUBCOMMANDS` lists them. Adding one is adding a pair.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any

from chaos import faults as fault_registry
from chaos.explore.cli import configure_explore, explore
from chaos.guide import BY_ID
from chaos.incident.cli import configure_incident, incident
from chaos.runbook.cli import configure_runbook, runbook
from chaos.scenario_cli import add_subcommands
from chaos.sweep.cli import configure_sweep, sweep


def configure_faults(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("names", nargs="*", metavar="NAME", help="only these faults (default: all)")
    parser.add_argument("--json", action="store_true", help="print the catalogue as JSON")


def faults(args: argparse.Namespace) -> int:
    """List the faults: parameters, guide sections, expected error codes, mechanism and fallback."""
    entries = fault_registry.catalogue()
    unknown = sorted(set(args.names) - {entry["name"] for entry in entries})
    if unknown:
        print(f"error: unknown fault(s) {', '.join(unknown)}; known: {', '.join(sorted(fault_registry.FAULTS))}", file=sys.stderr)
        return 2
    chosen = [entry for entry in entries if not args.names or entry["name"] in args.names]
    if args.json:
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


SUBCOMMANDS: dict[str, tuple[Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], int]]] = {
    "faults": (configure_faults, faults),
    "sweep": (configure_sweep, sweep),
    "explore": (configure_explore, explore),
    "incident": (configure_incident, incident),
    "runbook": (configure_runbook, runbook),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m chaos", description="The chaos harness of the task orchestrator.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (configure, run) in SUBCOMMANDS.items():
        sub = commands.add_parser(name, help=(run.__doc__ or "").strip().splitlines()[0], description=run.__doc__)
        configure(sub)
        sub.set_defaults(run=run)
    add_subcommands(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.run(args)

"""`python -m chaos faults`: the fault catalogue, with each fault's parameters, guide sections and error codes."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from chaos.cli.scenario import add_format
from chaos.guide.catalogue import BY_ID


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

"""A file generated from the code and committed (the JSON Schema, the tool catalogue): the command
that rewrites it, or with `--check` says whether the committed one is current (tests run it)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path


def main(prog: str, description: str | None, path: Path, render: Callable[[], str], argv: list[str] | None) -> int:
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("--check", action="store_true", help="exit 1 if the file differs from the code")
    parser.add_argument("--output", type=Path, default=path, help="where the file goes (default %(default)s)")
    args = parser.parse_args(argv)
    current = args.output.read_text() if args.output.exists() else None
    if args.check:
        if current == render():
            return 0
        print(f"{args.output} is out of date: run {prog}", file=sys.stderr)
        return 1
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(render())
    print(f"wrote {args.output}")
    return 0

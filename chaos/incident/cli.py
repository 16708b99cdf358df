"""`python -m chaos incident import PATH --out DIR`: the command around evidence, inference and writer.

Everything is read and written in a staging directory first, so a refused or unreadable input
leaves `--out` as it was.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

from chaos.incident import evidence as field
from chaos.incident.archive import IncidentError, is_tarball, unpack
from chaos.incident.inference import Story, infer
from chaos.incident.writer import Written, write
from chaos.scenario import load_scenario

EXIT_OK, EXIT_INVALID, EXIT_USAGE = 0, 1, 2


def configure_incident(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    imported = actions.add_parser(
        "import",
        help="Write a scenario that reproduces a field incident from its .task_orchestrator/ directory.",
        description="Read a field .task_orchestrator/ directory (or the directory holding it, or a .tar.gz of either): "
        "the restart history, server.log, the state files and the database. Write DIR/NAME.yaml, a scenario that "
        "starts from a copy of the state files and database (DIR/NAME.fixture/), replays the restarts in order with "
        "the error codes they got, and injects before each failed one the registry fault the evidence points to "
        "(the reason is a comment beside it). What the directory did not say is listed at the top of the file as "
        "guessed. The field files are only read; nothing in them is run. Exit status: 0 written and valid, 1 "
        "written but invalid (the problems are printed), 2 nothing written (the error says why).",
    )
    imported.add_argument("path", type=Path, metavar="PATH", help="a .task_orchestrator/ directory, its base directory, or a .tar.gz of either")
    imported.add_argument("--out", type=Path, required=True, metavar="DIR", help="where NAME.yaml and NAME.fixture/ are written")
    imported.add_argument("--name", metavar="NAME", help="the scenario's name (default: incident-<time of the first restart>)")
    imported.add_argument("--redact", action="store_true", help="replace task titles and descriptions (and other task text) in the copies; ids are kept")
    imported.add_argument("--force", action="store_true", help="replace NAME.yaml and NAME.fixture/ if they exist")


def incident(args: argparse.Namespace) -> int:
    """Turn field evidence into scenarios: `incident import PATH --out DIR`."""
    try:
        written = import_incident(args.path, args.out, args.name, args.redact, args.force)
    except IncidentError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print(f"wrote {written.scenario}")
    print(f"      {written.fixture}/ (the field's state files and database, copied{', redacted' if args.redact else ''})")
    for note in written.notes:
        print(f"  {note}")
    if written.guesses:
        print("guessed (the field directory did not say):")
        print("\n".join(f"  - {guess}" for guess in written.guesses))
    loaded = load_scenario(written.scenario)
    if loaded.problems:
        print("\n".join(str(problem) for problem in loaded.problems), file=sys.stderr)
        print("the scenario does not validate: edit it, then python -m chaos validate", file=sys.stderr)
        return EXIT_INVALID
    print(f"run it: python -m chaos run {written.scenario}")
    return EXIT_OK


def import_incident(path: Path, out: Path, name: str | None = None, redact: bool = False, force: bool = False) -> Written:
    """Read `path`, write the scenario and fixture into `out`; IncidentError (and nothing written) if it cannot."""
    if not path.exists():
        raise IncidentError(f"{path}: no such file or directory")
    with tempfile.TemporaryDirectory(prefix="chaos-incident-") as scratch:
        source = path
        if is_tarball(path):
            unpack(path, Path(scratch) / "field")
            source = Path(scratch) / "field"
        elif not path.is_dir():
            raise IncidentError(f"{path}: neither a directory nor a .tar.gz; give the .task_orchestrator/ directory or a tarball of it")
        evidence = field.read(field.find_root(source))
        story = infer(evidence)
        name = name or default_name(story)
        if not re.fullmatch(r"[a-z0-9][a-z0-9._-]{0,79}", name):
            raise IncidentError(f"--name {name!r}: use lower-case letters, digits, '.', '_' and '-' (at most 80)")
        targets = (out / f"{name}.yaml", out / f"{name}.fixture")
        existing = [str(t) for t in targets if t.exists()]
        if existing and not force:
            raise IncidentError(f"{', '.join(existing)} already exist(s): choose another --name or --out, or pass --force")
        staged = write(evidence, story, Path(scratch) / "out", name, str(path), redact)
        out.mkdir(parents=True, exist_ok=True)
        for target in targets:
            if target.is_dir():
                shutil.rmtree(target)
            else:
                target.unlink(missing_ok=True)
            shutil.move(Path(scratch) / "out" / target.name, target)
    return Written(targets[0], targets[1], staged.guesses, staged.notes)


def default_name(story: Story) -> str:
    first = next((event.at for event in story.events if event.at is not None), None)
    return "incident-" + (first.strftime("%Y%m%d-%H%M%S") if first else time.strftime("%Y%m%d-%H%M%S"))

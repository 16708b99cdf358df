"""A finding as a scenario file, ready to commit: named, described, valid, and replayed once.

The file is the shrunk schedule's scenario under a name that says what failed, with a
description naming the exploration seed and the command that replays it. It is validated as
`python -m chaos validate` would, and run once more from the file, so the report can say whether
the file fails the same way.
"""

from __future__ import annotations

import re
from pathlib import Path

from chaos.engine.failure import reproduce_command
from chaos.engine.lifecycle import RunOptions, run_one
from chaos.explore.compile import compile_schedule
from chaos.explore.judge import Verdict, judge
from chaos.explore.run import loaded
from chaos.explore.schedule import Schedule
from chaos.explore.search import Exploration
from chaos.explore.yaml_text import scenario_yaml
from chaos.scenario.source import display_path

NAME_LIMIT = 80


def scenario_name(exploration: Exploration) -> str:
    assert exploration.verdict is not None
    words = re.sub(r"[^a-z0-9]+", "-", exploration.verdict.signature.lower()).strip("-")
    return f"explored-seed{exploration.seed}-{words}"[:NAME_LIMIT].rstrip("-.")


def replay_command(path: Path, schedule: Schedule) -> str:
    return reproduce_command(display_path(path), schedule.seed)


def write_finding(exploration: Exploration, out_dir: Path) -> Path:
    """Write the shrunk schedule as `<out_dir>/<name>.yaml` and check it validates; return its path."""
    schedule, verdict = exploration.schedule, exploration.verdict
    assert schedule is not None and verdict is not None
    name = scenario_name(exploration)
    path = out_dir / f"{name}.yaml"
    tally = exploration.tally
    description = (
        f"Found by exploration (python -m chaos explore --seed {exploration.seed}, after {tally.explored} schedule "
        f"run(s)) and shrunk by hypothesis in {tally.runs - tally.explored} more: {verdict.signature}. "
        f"It replays in sim mode with its sim_seed, {schedule.seed}."
    )
    text = scenario_yaml(compile_schedule(schedule).document(name, description, schedule.seed))
    out_dir.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    loaded(path.read_text(), path)  # raises if the validator refuses it
    return path


def replay(path: Path, schedule: Schedule, workdir: Path) -> Verdict:
    """Run the written file in sim mode with the schedule's seed, and judge it as exploration did."""
    result = run_one(loaded(path.read_text(), path), RunOptions(workdir=workdir, mode="sim", seed=schedule.seed))
    compiled = compile_schedule(schedule)
    return judge(result, compiled.roles, compiled.windows)

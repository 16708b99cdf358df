"""The order a batch starts its scenarios in: the longest expected first, as earlier runs recorded."""

from __future__ import annotations

import json
import os
from pathlib import Path

from chaos.engine.batch import longest_first, recorded_durations
from chaos.scenario import Loaded, load_scenario


def scenario(tmp_path: Path, name: str, tags: tuple[str, ...] = ()) -> Loaded:
    text = (
        f"name: {name}\ndescription: d\ncovers: {{}}\ntags: [{', '.join(tags)}]\n"
        "steps:\n  - sleep: 1\n    why: a story of its own\n"
    )
    loaded = load_scenario(tmp_path / f"{name}.yaml", text)
    assert loaded.ok, loaded.problems
    return loaded


def journal(reports: Path, folder: str, written_at: float, *runs: tuple[str, float, str]) -> None:
    (reports / folder).mkdir(parents=True)
    scenarios = [{"name": name, "duration_s": seconds, "outcome": outcome} for name, seconds, outcome in runs]
    path = reports / folder / "journal.json"
    path.write_text(json.dumps({"scenarios": scenarios}))
    os.utime(path, (written_at, written_at))


def test_recorded_durations_come_from_the_newest_passing_run_of_each_scenario(tmp_path: Path) -> None:
    journal(tmp_path, "20260101T000000Z", 1000.0, ("a", 30.0, "passed"), ("b", 12.0, "passed"), ("c", 7.0, "passed"))
    # newer, whatever its folder is called; b stopped early, which measures nothing
    journal(tmp_path, "nightly", 2000.0, ("a", 20.0, "passed"), ("b", 3.0, "failed"))
    (tmp_path / "20260103T000000Z").mkdir()  # a run still writing its reports
    (tmp_path / "20260103T000000Z" / "journal.json").write_text('{"scenar')
    assert recorded_durations(tmp_path) == {"a": 20.0, "b": 12.0, "c": 7.0}
    assert recorded_durations(tmp_path / "nothing-yet") == {}


def test_the_longest_start_first_and_the_never_measured_before_them(tmp_path: Path) -> None:
    loaded = [
        scenario(tmp_path, "short"),
        scenario(tmp_path, "new"),
        scenario(tmp_path, "long"),
        scenario(tmp_path, "new-and-slow", tags=("slow",)),
        scenario(tmp_path, "middle"),
    ]
    order = longest_first(loaded, {"short": 5.0, "long": 40.0, "middle": 20.0})
    assert [loaded[i].scenario.name for i in order] == ["new-and-slow", "new", "long", "middle", "short"]
    assert longest_first(loaded[:3], {}) == [0, 1, 2]  # nothing recorded: the order of the files

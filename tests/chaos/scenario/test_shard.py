"""--shard K/N and `report merge`: the catalogue split over CI jobs, and one report again from their journals."""

from __future__ import annotations

import argparse
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chaos.engine.select import expected_seconds, parse_shard, partition, shard
from chaos.scenario import Loaded, load_scenario

from .support import cli

POOL_SIZE = 12


def story(name: str, padding: int = 0, healthy: bool = True) -> str:
    """A scenario sim mode runs in milliseconds; `padding` makes its file longer (the fallback weight)."""
    return (
        f"name: {name}\ndescription: a short story{' ' * padding}\ncovers: {{}}\n"
        f"steps:\n  - start: {{}}\n  - call: orchestrator_health_check\n    expect: {{healthy: {str(healthy).lower()}}}\n"
    )


@pytest.fixture(scope="module")
def pool(tmp_path_factory: pytest.TempPathFactory) -> list[Loaded]:
    """Scenario files of different sizes, loaded once for every example hypothesis draws."""
    directory = tmp_path_factory.mktemp("pool")
    loaded = []
    for index in range(POOL_SIZE):
        path = directory / f"s{index:02}.yaml"
        path.write_text(story(f"s{index:02}", padding=(index * 37) % 200))
        loaded.append(load_scenario(path))
    assert all(item.ok for item in loaded)
    return loaded


@settings(max_examples=150, deadline=None, database=None)
@given(
    chosen=st.lists(st.integers(0, POOL_SIZE - 1), unique=True),
    parts=st.integers(1, 8),
    recorded=st.dictionaries(st.integers(0, POOL_SIZE - 1), st.floats(0.1, 500.0)),
)
def test_the_shards_cover_the_selection_once_each_and_differ_by_at_most_one_scenario(
    pool: list[Loaded], chosen: list[int], parts: int, recorded: dict[int, float]
) -> None:
    selection = [pool[index] for index in sorted(chosen)]
    durations = {f"s{index:02}": seconds for index, seconds in recorded.items()}
    shards = [[item.scenario.name for item in shard(selection, part, parts, durations)] for part in range(1, parts + 1)]
    names = [name for names in shards for name in names]
    assert sorted(names) == sorted(item.scenario.name for item in selection)  # every one, none twice
    assert shards == [[item.scenario.name for item in shard(list(selection), part, parts, dict(durations))] for part in range(1, parts + 1)]
    groups = partition(selection, parts, durations)
    weights = expected_seconds(selection, durations)
    loads = [sum(weights[index] for index in group) for group in groups]
    heaviest = max(weights, default=0.0)
    assert max(loads) - min(loads) <= heaviest + 1e-6  # greedy into the lightest: never worse than one scenario apart


def test_recorded_durations_balance_the_shards_and_their_absence_falls_back_to_file_sizes(pool: list[Loaded]) -> None:
    durations = {"s00": 100.0, "s01": 60.0, "s02": 50.0, "s03": 10.0}
    assert [[item.scenario.name for item in shard(pool[:4], part, 2, durations)] for part in (1, 2)] == [["s00", "s03"], ["s01", "s02"]]  # 110s each
    by_size = sorted(pool[:4], key=lambda item: -item.source.path.stat().st_size)
    first = [item.scenario.name for item in shard(pool[:4], 1, 2, {})]
    assert by_size[0].scenario.name in first and by_size[1].scenario.name not in first


@pytest.mark.parametrize(
    ("text", "error"),
    [("0/2", "K must be in 1..N, got 0/2"), ("3/2", "K must be in 1..N, got 3/2"), ("1/0", "K must be in 1..N"), ("1-2", "expected K/N")],
)
def test_a_shard_outside_1_to_n_is_refused_with_the_reason(text: str, error: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match=error):
        parse_shard(text)
    assert parse_shard(" 2/3 ") == (2, 3)


def run_shard(directory: Path, part: str, report: Path, *extra: str) -> int:
    return cli(["run", str(directory), "--mode", "sim", "--seed", "1", "-q", "--shard", part, "--report", str(report),
                "--workdir", str(report / "runs"), *extra])  # fmt: skip


def test_two_shards_run_apart_merge_into_the_report_of_the_whole(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    scenarios = tmp_path / "scenarios"
    scenarios.mkdir()
    for index, name in enumerate(["alpha", "beta", "gamma"]):
        (scenarios / f"{name}.yaml").write_text(story(name, padding=index * 50, healthy=name != "beta"))
    assert run_shard(scenarios, "1/2", tmp_path / "one") in (0, 1)
    assert run_shard(scenarios, "2/2", tmp_path / "two") in (0, 1)
    out = capsys.readouterr().out
    assert "shard 1/2: 1 of 3 scenario(s)" in out and "shard 2/2: 2 of 3 scenario(s)" in out  # gamma, the longest file, alone

    assert cli(["report", "merge", str(tmp_path / "one"), str(tmp_path / "two"), "--out", str(tmp_path / "all")]) == 1  # beta failed
    journal = json.loads((tmp_path / "all" / "journal.json").read_text())
    assert sorted(s["name"] for s in journal["scenarios"]) == ["alpha", "beta", "gamma"]
    assert journal["command"].count("--shard") == 2
    suite = ET.parse(tmp_path / "all" / "junit.xml").getroot().find("testsuite")
    assert (suite.get("tests"), suite.get("failures")) == ("3", "1")
    html = (tmp_path / "all" / "report.html").read_text()
    assert "1 failed" in html and "2 passed" in html and "beta" in html

    assert cli(["report", "merge", str(tmp_path / "one"), str(tmp_path / "one"), "--out", str(tmp_path / "twice")]) == 2
    assert "is in both" in capsys.readouterr().err and not (tmp_path / "twice").exists()


def test_report_renders_junit_and_html_again_from_the_journal_alone(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "alpha.yaml").write_text(story("alpha"))
    assert cli(["run", str(tmp_path / "alpha.yaml"), "--mode", "sim", "-q", "--report", str(tmp_path / "r"), "--workdir", str(tmp_path / "w")]) == 0
    capsys.readouterr()
    journal = (tmp_path / "r" / "journal.json").read_bytes()
    (tmp_path / "r" / "report.html").unlink()
    (tmp_path / "r" / "junit.xml").unlink()
    assert cli(["report", str(tmp_path / "r"), "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["totals"]["passed"] == 1 and set(out["written"]) == {"junit.xml", "report.html"}
    assert "alpha" in (tmp_path / "r" / "report.html").read_text()
    assert ET.parse(tmp_path / "r" / "junit.xml").getroot().find("testsuite").get("tests") == "1"
    assert (tmp_path / "r" / "journal.json").read_bytes() == journal  # the source is left as it was
    assert cli(["report", str(tmp_path / "nothing")]) == 2
    assert "not a run's journal" in capsys.readouterr().err
    assert cli(["report", "merge", str(tmp_path / "r")]) == 2  # no --out

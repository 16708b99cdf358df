"""--format json on the subcommands that report, and -x/--maxfail: what scripts and CI read."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chaos.cli import main

from .support import cli
from .test_shard import story


def test_validate_in_json_lists_every_problem_with_its_place(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "good.yaml").write_text(story("good"))
    (tmp_path / "bad.yaml").write_text("name: bad\ndescription: x\ncovers: {}\nsteps:\n  - sleep: -1\n    why: w\n")
    assert cli(["validate", str(tmp_path), str(tmp_path / "absent"), "--format", "json"]) == 1
    out = capsys.readouterr()
    report = json.loads(out.out)
    assert (report["files"], report["valid"]) == (2, 1)
    assert {"file": str(tmp_path / "absent"), "line": None, "column": None, "message": "no such file or directory"} in report["problems"]
    assert any(p["line"] == 5 and p["column"] == 5 and "sleep" in p["message"] for p in report["problems"]), report
    assert out.err == ""  # nothing but the document
    assert cli(["validate", str(tmp_path / "good.yaml"), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["problems"] == []


def test_run_in_json_prints_only_the_summary_on_stdout_and_maxfail_stops_starting_scenarios(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, healthy in (("a-fails", False), ("b-fails", False), ("c-passes", True)):
        (tmp_path / f"{name}.yaml").write_text(story(name, healthy=healthy))
    argv = ["run", str(tmp_path), "--mode", "sim", "--report", str(tmp_path / "r"), "--workdir", str(tmp_path / "w"), "--format", "json"]
    assert cli([*argv, "-x"]) == 1
    summary = json.loads(capsys.readouterr().out)
    assert summary["totals"] == {"passed": 0, "failed": 1, "error": 0, "skipped": 0, "not_run": 2}
    assert summary["not_run"] == ["b-fails", "c-passes"]
    (first,) = summary["scenarios"]
    assert first["name"] == "a-fails" and first["failure"].endswith("a-fails.yaml:7: steps[1] call: expectation not met")
    assert first["reproduce"].endswith("a-fails.yaml --mode sim --seed 0")

    assert cli([*argv, "--maxfail", "2"]) == 1
    summary = json.loads(capsys.readouterr().out)
    assert summary["totals"]["failed"] == 2 and summary["not_run"] == ["c-passes"]
    assert cli(argv) == 1
    assert json.loads(capsys.readouterr().out)["totals"] == {"passed": 1, "failed": 2, "error": 0, "skipped": 0, "not_run": 0}


def test_faults_takes_format_json_and_keeps_json_as_its_alias(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["faults", "--format", "json", "db_lock"]) == 0
    formatted = capsys.readouterr().out
    assert main(["faults", "--json", "db_lock"]) == 0
    assert capsys.readouterr().out == formatted and json.loads(formatted)[0]["name"] == "db_lock"

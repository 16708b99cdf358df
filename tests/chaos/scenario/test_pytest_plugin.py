"""The pytest plugin, through pytest itself: collection, -k, marks, xdist, JUnit, and how failures read."""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET

import pytest

from chaos.engine import RunOptions, ScenarioResult
from chaos.pytest import plugin as pytest_plugin
from chaos.scenario import Loaded

from .support import cli
from .test_run import PASSING

pytest_plugins = ["pytester"]

WRONG = """\
name: {name}
description: a story with a wrong expectation
covers: {{guide: [checklist.current-status], error_codes: [RESTART_004]}}
tags: [slow_one]
steps:
  - start: {{}}
  - call: orchestrator_restart_status
    covers: [checklist.current-status]
    expect:
      current_status.phase: complete
  - restart: {{}}
    error_code: RESTART_004
"""
BROKEN = "name: broken\ndescription: x\ncovers: {guide: [nope]}\nsteps:\n  - sleep: -1\n"
NOT_A_SCENARIO = "jobs:\n  build:\n    runs-on: ubuntu\n"


def literal(line: str) -> str:
    """`line` as an fnmatch pattern matching exactly itself."""
    return "".join(f"[{c}]" if c in "[]*?" else c for c in line)


@pytest.fixture(autouse=True)
def quiet_ini(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")


@pytest.fixture
def scenario_dir(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.mkdir("scenarios")
    (pytester.path / "scenarios" / "good.yaml").write_text(PASSING.format(name="good"))
    (pytester.path / "scenarios" / "wrong.yaml").write_text(WRONG.format(name="wrong"))
    (pytester.path / "scenarios" / "ci.yaml").write_text(NOT_A_SCENARIO)
    return pytester


def test_scenarios_are_collected_as_items_with_keywords_and_marks(scenario_dir: pytest.Pytester) -> None:
    result = scenario_dir.runpytest("-p", "chaos.pytest.plugin", "--collect-only", "-q", "scenarios")
    result.stdout.fnmatch_lines(["scenarios/good.yaml::good", "scenarios/wrong.yaml::wrong", "*2 tests collected*"])
    result = scenario_dir.runpytest("-p", "chaos.pytest.plugin", "--collect-only", "-q", "-k", "RESTART_004", "scenarios")
    result.stdout.fnmatch_lines(["scenarios/wrong.yaml::wrong", "*1/2 tests collected (1 deselected)*"])
    result = scenario_dir.runpytest("-p", "chaos.pytest.plugin", "--collect-only", "-q", "-m", "slow_one", "--strict-markers", "scenarios")
    result.stdout.fnmatch_lines(["scenarios/wrong.yaml::wrong", "*1/2 tests collected (1 deselected)*"])


def test_an_invalid_scenario_is_a_collection_error_listing_every_problem(pytester: pytest.Pytester) -> None:
    (pytester.path / "broken.yaml").write_text(BROKEN)
    result = pytester.runpytest("-p", "chaos.pytest.plugin", "broken.yaml")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(
        [
            "invalid scenario file:",
            literal("broken.yaml:3:18: covers.guide[0]: unknown guide id 'nope'") + "*",
            literal("broken.yaml:5:5: steps[0].sleep: expected greater than 0, got -1"),
            literal("broken.yaml:5:5: steps[0]: missing required key 'why'"),
        ]
    )


@pytest.mark.live
def test_scenarios_run_under_xdist_with_junit_and_read_like_the_cli(scenario_dir: pytest.Pytester) -> None:
    junit = scenario_dir.path / "junit.xml"
    result = scenario_dir.runpytest_subprocess(
        "-p", "chaos.pytest.plugin", "-n", "2", f"--junitxml={junit}", "-p", "no:cacheprovider",
        f"--scenario-workdir={scenario_dir.path / 'runs'}", "scenarios", timeout=600,
    )  # fmt: skip
    result.assert_outcomes(passed=1, failed=1)
    wrong = "scenarios/wrong.yaml"
    expected = [
        f"FAILED wrong ({wrong})",
        f"  {wrong}:10: steps[1] call: expectation not met",  # the WRONG template's line 10
        f"      {wrong}:10: current_status.phase",
        '          expected: "complete"',
        '          actual:   "idle"',
    ]
    result.stdout.fnmatch_lines([literal(line) for line in expected] + [f"*reproduce: {sys.executable} -m chaos run {wrong}"])
    cases = {case.get("name"): case for case in ET.parse(junit).getroot().iter("testcase")}
    assert sorted(cases) == ["good", "wrong"] and cases["wrong"].find("failure") is not None
    assert [p.name.split("-")[1] for p in (scenario_dir.path / "runs").iterdir()] == ["wrong"]  # kept: it failed


CI_WITH_STEPS = "steps:\n  - run: make deploy\n"


def test_without_being_asked_for_the_plugin_collects_nothing(scenario_dir: pytest.Pytester) -> None:
    result = scenario_dir.runpytest("--collect-only", "-q", "scenarios")
    result.stdout.fnmatch_lines(["*no tests collected*"])


def test_asked_for_it_collects_only_under_chaos_scenarios_never_a_ci_file_with_steps(
    scenario_dir: pytest.Pytester,
) -> None:
    scenario_dir.mkdir("ci")
    (scenario_dir.path / "ci" / "deploy.yaml").write_text(CI_WITH_STEPS)
    scenario_dir.makeini(
        "[pytest]\nasyncio_default_fixture_loop_scope = function\naddopts = -p chaos.pytest.plugin\n"
        "chaos_scenarios = scenarios\n"
    )
    result = scenario_dir.runpytest("--collect-only", "-q")
    result.stdout.fnmatch_lines(["scenarios/good.yaml::good", "scenarios/wrong.yaml::wrong", "*2 tests collected*"])
    assert "deploy" not in result.stdout.str()


def test_the_plugin_and_chaos_run_give_a_scenario_the_same_junit_id(
    scenario_dir: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """classname (the file's path, dotted) and name (the scenario's), however the scenario ran.
    The plugin's run is faked: only the ids are compared; chaos run simulates its scenario."""

    def passed(loaded: Loaded, options: RunOptions) -> ScenarioResult:
        return ScenarioResult(loaded.scenario.name, loaded.source.name, "passed", 0.0, [], {})

    monkeypatch.setattr(pytest_plugin, "run_one", passed)
    for other in ("wrong.yaml", "ci.yaml"):  # chaos run takes every YAML file for a scenario
        (scenario_dir.path / "scenarios" / other).unlink()
    nested = scenario_dir.path / "scenarios" / "nested"
    nested.mkdir()
    (nested / "deep.yaml").write_text(PASSING.format(name="deep"))
    scenario_dir.runpytest("-p", "chaos.pytest.plugin", "--junitxml=plugin.xml", "-p", "no:cacheprovider", "scenarios").assert_outcomes(passed=2)
    assert cli(["run", "scenarios", "--mode", "sim", "-q", "--report", "run", "--workdir", "runs"]) == 0

    def ids(path: str) -> set[tuple[str | None, str | None]]:
        return {(case.get("classname"), case.get("name")) for case in ET.parse(scenario_dir.path / path).getroot().iter("testcase")}

    assert ids("plugin.xml") == ids("run/junit.xml") == {("scenarios.good.yaml", "good"), ("scenarios.nested.deep.yaml", "deep")}

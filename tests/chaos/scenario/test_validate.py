"""The validator: every problem in a file at once, each at the line that causes it."""

from __future__ import annotations

from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chaos.scenario import load_paths, load_scenario

HERE = Path(__file__).parent
BAD = HERE / "data" / "bad-scenario.yaml"
EXAMPLES = HERE.parents[2] / "scenarios"

# line -> what the message for that line must say (the file has one mistake per line)
EXPECTED = {
    3: "expected text matching",
    6: "unknown guide id 'issue-1.solution-9': did you mean",
    7: "got 'RESTART_009'",
    8: "unknown key 'nope'",
    10: "no orchestrator is running at this `call` step",
    11: "stdio serves exactly one client",
    13: "did you mean 'expect'",
    14: "got 'soon'",
    16: "unknown key 'eq'; allowed here: equals",
    17: "min 5.0 is larger than max 1.0",
    18: "does not compile",
    19: "nothing was injected as 'nothing'",
    20: "missing required key 'why'",
    22: "'unknown' is not saved by any earlier step",
    23: "(this step has: frobnicate)",
    24: "unknown fault 'no_such_fault'",
    26: "expected 'SIGTERM' or 'SIGKILL', got 'SIGHUP'",
}

VALID = """\
name: tiny
description: a valid scenario to mutate
covers: {guide: [checklist.health-check], error_codes: [RESTART_002]}
steps:
  - start: {clients: 2}
  - call: orchestrator_health_check
    covers: [checklist.health-check]
    expect: {healthy: true}
    save: {pid: worker_pid}
  - restart: {timeout: 60}
    error_code: RESTART_002
  - wait: orchestrator_restart_status
    until: {current_status.phase: complete}
"""


def problems_by_line(path: Path, text: str | None = None) -> dict[int, list[str]]:
    found: dict[int, list[str]] = {}
    for problem in load_scenario(path, text).problems:
        found.setdefault(problem.line, []).append(problem.message)
    return found


def test_every_problem_of_a_bad_file_is_reported_at_its_line() -> None:
    found = problems_by_line(BAD)
    assert sorted(found) == sorted(EXPECTED)
    for line, words in EXPECTED.items():
        assert any(words in message for message in found[line]), (line, found[line])


def test_problems_print_as_file_line_column_message() -> None:
    first = load_scenario(BAD).problems[0]
    assert str(first).startswith(f"{first.file}:3:1: name: ")
    assert first.file.endswith("data/bad-scenario.yaml")


def test_the_example_scenarios_are_valid() -> None:
    loaded, missing = load_paths([EXAMPLES])
    assert not missing and len(loaded) >= 3
    assert [item.problems for item in loaded] == [[] for _ in loaded]


def test_a_valid_scenario_has_no_problems() -> None:
    loaded = load_scenario(Path("tiny.yaml"), VALID)
    assert loaded.ok and loaded.scenario is not None
    assert [type(step).__name__ for step in loaded.scenario.steps] == ["StartStep", "CallStep", "RestartStep", "WaitStep"]


def test_yaml_syntax_errors_name_their_line() -> None:
    found = problems_by_line(Path("x.yaml"), VALID + "  - call: [unclosed\n  - sleep: 1\n")
    assert list(found) == [15] and "not valid YAML" in found[15][0]


def test_duplicate_keys_are_errors_not_silently_merged() -> None:
    found = problems_by_line(Path("x.yaml"), VALID + "name: again\nbogus: 1\n")
    assert "duplicate key 'name' (first written on line 1)" in found[14][0]
    assert "unknown key 'bogus'" in found[15][0]  # and the schema is still checked


def test_empty_and_non_mapping_files() -> None:
    assert "empty" in problems_by_line(Path("x.yaml"), "")[1][0]
    assert "a scenario is a mapping" in problems_by_line(Path("x.yaml"), "- a\n- b\n")[1][0]


def test_story_rules_follow_the_order_of_steps() -> None:
    text = VALID + "  - call: orchestrator_health_check\n    client: 2\n    args: {x: '${saved.pid} ${saved.later}'}\n"
    found = problems_by_line(Path("x.yaml"), text)
    assert "client 2 does not exist" in found[15][0]
    assert any("'later' is not saved" in m for m in found[16]) and not any("'pid'" in m for m in found[16])


def test_names_must_be_unique_across_files(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(VALID)
    (tmp_path / "b.yaml").write_text(VALID)
    loaded, _ = load_paths([tmp_path])
    assert loaded[0].ok
    assert "name 'tiny' is already used by" in loaded[1].problems[0].message and not loaded[1].ok


def test_missing_paths_are_reported(tmp_path: Path) -> None:
    loaded, missing = load_paths([tmp_path / "nope"])
    assert loaded == [] and missing == [str(tmp_path / "nope")]


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.text(max_size=300))
def test_any_text_gives_problems_with_real_lines_never_a_crash(text: str) -> None:
    loaded = load_scenario(Path("fuzz.yaml"), text)
    assert loaded.ok or loaded.problems
    lines = max(1, text.count("\n") + 1) + 1
    assert all(1 <= p.line <= lines for p in loaded.problems)


KEY = st.from_regex(r"zz[a-z]{3,8}", fullmatch=True)
JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)


@settings(max_examples=120, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["top", 0, 1, 2, 3]), KEY, JSONISH), min_size=1, max_size=6, unique_by=lambda t: t[1]))
def test_every_unknown_key_is_reported_at_its_own_line(mutations: list) -> None:
    data = yaml.safe_load(VALID)
    for where, key, value in mutations:
        (data if where == "top" else data["steps"][where])[key] = value
    text = yaml.safe_dump(data, sort_keys=False)
    found = problems_by_line(Path("mutant.yaml"), text)
    for _, key, _ in mutations:
        line = next(n for n, content in enumerate(text.splitlines(), 1) if content.lstrip("- ").startswith(f"{key}:"))
        assert any(f"unknown key {key!r}" in message for message in found.get(line, [])), (key, line, found)
    assert sum(len(m) for m in found.values()) == len(mutations)


BAD_VALUES = {
    ("steps", 0, "start", "clients"): st.integers(min_value=33) | st.integers(max_value=0) | st.text(min_size=1, max_size=5),
    ("steps", 2, "restart", "timeout"): st.text(min_size=1, max_size=5).filter(lambda t: not _number(t)),
    ("steps", 3, "interval"): st.floats(max_value=0) | st.floats(min_value=61, allow_infinity=False),
    ("covers", "error_codes", 0): st.text(max_size=12).filter(lambda t: not t.startswith("RESTART_00")),
}


def _number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


@settings(max_examples=120, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.fixed_dictionaries({}, optional={loc: strategy for loc, strategy in BAD_VALUES.items()}))
def test_every_bad_value_is_reported_at_the_line_of_its_key(bad: dict) -> None:
    data = yaml.safe_load(VALID)
    for loc, value in bad.items():
        target = data
        for part in loc[:-1]:
            target = target[part]
        target[loc[-1]] = value
    text = yaml.safe_dump(data, sort_keys=False, width=1000)
    loaded = load_scenario(Path("mutant.yaml"), text)
    assert loaded.ok == (not bad)
    reported = {p.line for p in loaded.problems}
    for loc in bad:
        line = loaded.source.line(loc)
        assert line in reported, (loc, line, loaded.problems)
    assert len(reported) == len(bad)


def test_the_committed_tool_catalogue_is_the_orchestrators_own(tmp_path):
    from chaos.scenario import tools

    assert tools.CATALOGUE_PATH.read_text() == tools.render(), "run: python -m chaos.scenario.tools"
    stale = tmp_path / "tool_catalogue.json"
    stale.write_text("{}\n")
    assert tools.main(["--check", "--output", str(stale)]) == 1

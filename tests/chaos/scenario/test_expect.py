"""Expectation operators, dotted paths and ${...} substitution."""

from __future__ import annotations

from pathlib import Path

import pytest

from chaos.scenario import load_scenario
from chaos.scenario.expect import check, expectations_for, same
from chaos.scenario.values import PathMissing, SubstitutionError, references, resolve, substitute

RESPONSE = {
    "success": False,
    "error_code": "RESTART_002",
    "progress": 42.5,
    "count": 1,
    "flag": True,
    "phases": [{"phase": "maintenance_mode"}, {"phase": "failed"}],
    "errors": ["another restart is in progress"],
    "nothing": None,
}
SCOPE = {"saved": {"pid": 123, "ids": ["a", "b"], "phase": "failed"}, "run": {"base_dir": "/tmp/x"}}


def step_expect(text: str) -> dict:
    """The validated `expect:` of a scenario step written as `text` (after a step saving pid, ids, phase)."""
    scenario = (
        "name: t\ndescription: d\ncovers: {}\nsteps:\n"
        "  - start: {}\n    save: {pid: url, ids: url, phase: url}\n"
        f"  - call: orchestrator_health_check\n    expect: {text}\n"
    )
    loaded = load_scenario(Path("t.yaml"), scenario)
    assert loaded.ok, loaded.problems
    return loaded.scenario.steps[1].expect


def matcher(text: str) -> dict:
    return expectations_for(step_expect(text), None)


@pytest.mark.parametrize(
    ("expect", "holds"),
    [
        ("{success: false}", True),
        ("{success: 0}", False),  # booleans are not numbers
        ("{count: true}", False),
        ("{count: 1.0}", True),
        ("{progress: {range: {min: 40, max: 50}}}", True),
        ("{progress: {range: {max: 40}}}", False),
        ("{flag: {range: {min: 0}}}", False),
        ("{error_code: {one_of: [RESTART_001, RESTART_002]}}", True),
        ("{error_code: {one_of: [RESTART_003]}}", False),
        ("{error_code: {regex: '^RESTART_00[12]$'}}", True),
        ("{count: {regex: '1'}}", False),  # regex is for text
        ("{errors: {length: 1}}", True),
        ("{errors: {length: {min: 2}}}", False),
        ("{errors: {contains: 'another restart is in progress'}}", True),
        ("{errors.0: {contains: 'in progress'}}", True),
        ("{phases.-1.phase: failed}", True),
        ("{phases.0.phase: {not_equals: failed}}", True),
        ("{nothing: null}", True),
        ("{nothing: {exists: true}}", True),
        ("{absent: {exists: false}}", True),
        ("{absent: {exists: true}}", False),
        ("{absent: null}", False),  # absent is not null
        ("{phases.9.phase: x}", False),
        ("{error_code: '${saved.phase}'}", False),
        ("{phases.1.phase: '${saved.phase}'}", True),
        ("{count: {equals: 1, one_of: [1, 2], range: {min: 1}}}", True),
        ("{count: {equals: 1, one_of: [2]}}", False),
    ],
)
def test_operators(expect: str, holds: bool) -> None:
    assert (check(RESPONSE, matcher(expect), SCOPE) == []) is holds


def test_every_mismatch_is_reported_with_expected_and_actual() -> None:
    mismatches = check(RESPONSE, matcher("{success: true, count: {range: {min: 5}}, absent: 1}"), SCOPE, ("steps", 0, "expect"))
    assert [(m.path, m.expected, m.actual) for m in mismatches] == [
        ("success", "true", "false"),
        ("count", "a number in 5.0..", "1"),
        ("absent", "1", "absent (no 'absent' in the response (keys there: count, error_code, errors, flag, nothing, phases, progress, success))"),
    ]
    assert mismatches[0].loc == ("steps", 0, "expect", "success")


def test_error_code_shorthand_and_defaults() -> None:
    assert expectations_for({}, "RESTART_004") == {"success": {"equals": False}, "error_code": {"equals": "RESTART_004"}}
    assert expectations_for({}, None, {"success": True}) == {"success": {"equals": True}}
    assert expectations_for(step_expect("{phase: idle}"), None, {"success": True}) == {"phase": {"equals": "idle"}}


def test_same_is_json_equality() -> None:
    assert same({"a": [1, 2.0]}, {"a": [1.0, 2]}) and not same([True], [1]) and not same({"a": 1}, {"a": 1, "b": 2})


def test_resolve_says_how_far_it_got() -> None:
    assert resolve(RESPONSE, "phases.0.phase") == "maintenance_mode"
    with pytest.raises(PathMissing, match="phases has 2 item"):
        resolve(RESPONSE, "phases.5")
    with pytest.raises(PathMissing, match="is a list; use an index"):
        resolve(RESPONSE, "phases.last")
    with pytest.raises(PathMissing, match="count is int 1"):
        resolve(RESPONSE, "count.x")


def test_substitution_keeps_types_when_whole_and_formats_when_embedded() -> None:
    value = {"pid": "${saved.pid}", "text": "pid=${saved.pid} first=${saved.ids.0}", "list": ["${saved.ids}"], "n": 3}
    assert substitute(value, SCOPE) == {"pid": 123, "text": "pid=123 first=a", "list": [["a", "b"]], "n": 3}
    assert substitute("${run.base_dir}/x", SCOPE) == "/tmp/x/x"
    assert substitute("${saved.pid}\n", SCOPE) == "123\n", "a trailing newline makes it text (shell output)"


@pytest.mark.parametrize(
    ("text", "message"),
    [("${saved.nope}", "nothing called 'nope' in saved (there: ids, phase, pid)"), ("${other.x}", "write ${saved.NAME}"), ("${saved.ids.7}", "no index 7")],
)
def test_substitution_errors_name_what_is_missing(text: str, message: str) -> None:
    with pytest.raises(SubstitutionError, match=message.replace("$", r"\$").replace("{", r"\{").replace("(", r"\(").replace(")", r"\)")):
        substitute(text, SCOPE)


def test_references_are_found_anywhere() -> None:
    assert list(references({"a": ["x ${saved.a} ${run.url}"], "b": {"c": "${saved.b.0}"}})) == ["saved.a", "run.url", "saved.b.0"]

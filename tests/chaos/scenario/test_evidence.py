"""Verdicts that prove what they claim: tool names checked, coverage from assertions, the test switch hidden."""

from __future__ import annotations

import json
from pathlib import Path

import anyio
import pytest

from chaos.guide.coverage import from_journal, from_scenarios, matrix
from chaos.scenario import load_scenario
from orchestrator import faultpoints
from orchestrator.task_tools import register_task_tools

from .support import cli

STORY = """\
name: evidence
description: d
covers: {guide: [checklist.health-check], error_codes: [RESTART_002]}
steps:
  - start: {}
  - call: orchestrator_health_check
    covers: [checklist.health-check]
    expect: {healthy: true}
  - restart: {}
    expect: {error_code: {one_of: [null, RESTART_003]}}
  - restart: {}
    error_code: RESTART_002
"""


def problems(text: str) -> dict[int, list[str]]:
    found: dict[int, list[str]] = {}
    for problem in load_scenario(Path("s.yaml"), text).problems:
        found.setdefault(problem.line, []).append(problem.message)
    return found


def test_misspelled_tools_and_arguments_are_validate_errors_with_did_you_mean() -> None:
    text = STORY + (
        "  - call: orchestrator_helth_check\n"
        "  - wait: orchestrator_restart_status\n    args: {include_histroy: true}\n    until: {x: 1}\n"
        "  - load: {tool: orchestrator_plan_tsk}\n"
    )
    found = problems(text)
    assert "did you mean 'orchestrator_health_check'?" in found[13][0]
    assert "takes no argument 'include_histroy'; did you mean 'include_history'?" in found[15][0]
    assert "did you mean 'orchestrator_plan_task'?" in found[17][0]
    assert len(found) == 3


def test_coverage_counts_assertions_not_claims() -> None:
    loaded = load_scenario(Path("s.yaml"), STORY)
    assert loaded.ok, loaded.problems
    by_id = {i["id"]: i["scenarios"] for i in matrix(from_scenarios([loaded.scenario]))["items"]}
    assert by_id["checklist.health-check"] == by_id["RESTART_002"] == ["evidence"]
    assert by_id["RESTART_003"] == [], "a one_of that also accepts null proves nothing"


@pytest.mark.parametrize(
    ("old", "new", "line", "message"),
    [
        ("    covers: [checklist.health-check]\n", "", 3, "covers checklist.health-check, but no step asserts it"),
        ("    expect: {healthy: true}\n", "", 7, "this step asserts nothing"),
        ("    error_code: RESTART_002\n", "", 3, "covers RESTART_002, but no step asserts it"),
        ("  - restart: {}\n    error_code", "  - restart: {}\n    covers: [issue-1.cause-1]\n    error_code", 12, "add it to the scenario's covers.guide"),
    ],
)
def test_a_claim_without_its_assertion_is_a_validate_error(old: str, new: str, line: int, message: str) -> None:
    """Break the evidence (drop the tag, the assertion, the expected code): validation turns red."""
    assert STORY.count(old) == 1
    assert any(message in m for m in problems(STORY.replace(old, new)).get(line, [])), problems(STORY.replace(old, new))


def test_coverage_from_a_journal_counts_only_passing_steps(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    steps = [
        {"outcome": "passed", "proves": ["checklist.health-check"]},
        {"outcome": "failed", "proves": ["RESTART_002"]},
    ]
    document = {"scenarios": [{"name": "evidence", "steps": steps}]}
    assert from_journal(document) == {"evidence": ["checklist.health-check"]}
    journal = tmp_path / "journal.json"
    journal.write_text(json.dumps(document))
    assert cli(["coverage", "--journal", str(journal), "--format", "json"]) == 0
    summary = json.loads(capsys.readouterr().out)["summary"]
    assert (summary["covered_items"], summary["covered_error_codes"]) == (1, 0)


def test_the_hang_switch_is_absent_from_the_public_schema_and_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    from mcp.server.mcpserver import MCPServer

    def schema_of_start_job() -> dict:
        app = MCPServer("t")
        register_task_tools(app, lambda: None)
        tool = next(t for t in anyio.run(app.list_tools) if t.name == "orchestrator_start_job")
        return tool.input_schema["$defs"]["JobSpecModel"]["properties"]

    monkeypatch.delenv(faultpoints.FAULTPOINTS_ENV, raising=False)
    assert "ignore_suspend" not in schema_of_start_job()
    from orchestrator.task_tools import JobSpecModel

    with pytest.raises(ValueError, match="ignore_suspend: no such job option"):
        JobSpecModel(kind="builtin", duration_s=1, ignore_suspend=True)
    monkeypatch.setenv(faultpoints.FAULTPOINTS_ENV, "/nonexistent")
    assert {"ignore_suspend", "ignore_suspend_s"} <= set(schema_of_start_job())
    assert JobSpecModel(kind="builtin", duration_s=1, ignore_suspend=True).ignore_suspend

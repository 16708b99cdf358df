"""The guide catalogue, the coverage matrix computed against it, and -k selection."""

from __future__ import annotations

from pathlib import Path

import pytest

from chaos.cli import build_parser
from chaos.engine.select import ExpressionError, compile_expression, select
from chaos.guide import catalogue as guide
from chaos.guide.coverage import from_scenarios, matrix, render_text
from chaos.scenario import load_paths, load_scenario

# A fixed set of example scenarios (the first catalogue, frozen): these tests are about the matrix and
# -k selection, not about the catalogue, which grows (tests/chaos/scenario/test_catalogue.py checks it).
EXAMPLES = Path(__file__).parent / "data" / "examples"


def test_ids_are_unique_and_cover_every_part_of_the_guide() -> None:
    ids = [item.id for item in guide.ITEMS]
    assert len(ids) == len(set(ids))
    assert [i for i in ids if i.startswith("RESTART_")] == [f"RESTART_00{n}" for n in range(1, 9)]
    for issue in range(1, 7):
        assert {f"issue-{issue}.diagnosis", f"issue-{issue}.solution-1", f"issue-{issue}.cause-1"} <= set(ids)
    assert {f"recovery.complete.step-{n}" for n in range(1, 6)} | {f"recovery.backup.step-{n}" for n in range(1, 4)} <= set(ids)
    assert {item.section for item in guide.ITEMS} == {section.id for section in guide.SECTIONS}
    assert [item.id for item in guide.ITEMS if not item.testable] == ["overview", "support.contact"]


def test_every_fault_names_guide_items_that_exist() -> None:
    from chaos import faults

    for entry in faults.catalogue():
        unknown = set(entry["guide_sections"]) - set(guide.BY_ID)
        assert not unknown, (entry["name"], unknown)


def test_coverage_matrix_counts_what_the_scenarios_name() -> None:
    loaded, _ = load_paths([EXAMPLES])
    report = matrix(from_scenarios([item.scenario for item in loaded]))
    by_id = {item["id"]: item for item in report["items"]}
    assert by_id["RESTART_002"]["scenarios"] == ["wait-for-current-operation"]
    assert by_id["issue-1.solution-1"]["scenarios"] == ["wait-for-current-operation"]
    summary = report["summary"]
    assert summary["testable_items"] == sum(1 for item in guide.ITEMS if item.testable) == len(guide.ITEMS) - 2
    assert summary["covered_items"] == sum(1 for item in report["items"] if item["testable"] and item["scenarios"])
    assert "issue-5.solution-3" in summary["uncovered"]
    text = render_text(report)
    assert "RESTART_002" in text and "NOT COVERED" in text and f"({summary['percent']}%)" in text


def test_coverage_command_json_and_fail_under(capsys: pytest.CaptureFixture[str]) -> None:
    import json

    argv = ["coverage", str(EXAMPLES), "--format", "json"]
    args = build_parser(argv).parse_args(argv)
    assert args.run(args) == 0
    assert json.loads(capsys.readouterr().out)["summary"]["covered_items"] > 5
    argv = ["coverage", str(EXAMPLES), "--fail-under", "100"]
    args = build_parser(argv).parse_args(argv)
    assert args.run(args) == 1
    assert "is under 100.0%" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("expression", "chosen"),
    [
        ("healthy", ["healthy-restart"]),
        ("RESTART_002", ["wait-for-current-operation"]),
        ("smoke and not emergency", ["healthy-restart", "wait-for-current-operation"]),
        ("(recovery or load) and not basics", ["restart-under-load", "complete-system-recovery"]),
        ("issue-1.solution-2", ["emergency-restart"]),
    ],
)
def test_keyword_selection(expression: str, chosen: list[str]) -> None:
    loaded, _ = load_paths([EXAMPLES])
    assert sorted(item.scenario.name for item in select(loaded, expression)) == sorted(chosen)


@pytest.mark.parametrize("bad", ["a and", "(a", "a b", "or a", ")"])
def test_bad_keyword_expressions_say_so(bad: str) -> None:
    with pytest.raises(ExpressionError, match="-k"):
        compile_expression(bad)


def test_selection_matches_file_names() -> None:
    loaded = load_scenario(EXAMPLES / "quick-diagnostic-checklist" / "healthy-restart.yaml")
    assert select([loaded], "diagnostic") == [loaded] and select([loaded], "not diagnostic") == []

"""The scenario catalogue (scenarios/): complete, well formed, and its failures read clearly.

The catalogue itself runs as tests through the pytest plugin (testpaths include scenarios/). Here:
every file is valid and says which part of the guide it proves, together they cover 100% of the
guide's sections, error codes and procedures, and a catalogue scenario whose expectation is wrong
- a wrong error code, a wrong outcome - fails with a report naming the line, what was expected
and what was seen.
"""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

import anyio
import pytest

from chaos.engine import RunOptions, run_scenario
from chaos.guide import catalogue as guide
from chaos.guide.coverage import covered_ids, from_scenarios, matrix
from chaos.scenario import load_paths, load_scenario

CATALOGUE = Path(__file__).resolve().parents[3] / "scenarios"
PYTEST_MARKS = {"timeout", "skip", "skipif", "xfail", "parametrize", "usefixtures", "filterwarnings", "asyncio", "live"}
EXAMPLE = CATALOGUE / "guide" / "database-connection-issues" / "database-connection-issues.yaml"  # early on: a refused restart (error code), a forced one (outcome)


def catalogue() -> list:
    loaded, missing = load_paths([str(CATALOGUE)])
    assert not missing
    return loaded


def folder(item) -> str:
    """Where a catalogue file sits: `guide/<section>`, `incidents` or `explored`."""
    return Path(item.source.name).resolve().parent.relative_to(CATALOGUE).as_posix()


def slug(title: str) -> str:
    """A guide heading as a folder name: "1. Restart Fails to Initiate" -> restart-fails-to-initiate."""
    return re.sub(r"[^a-z0-9]+", "-", re.sub(r"^\d+\.\s*", "", title).lower()).strip("-")


SECTION_OF_FOLDER = {f"guide/{slug(section.title)}": section.id for section in guide.SECTIONS}


def test_every_catalogue_file_is_valid_and_starts_with_the_schema_line() -> None:
    loaded = catalogue()
    folders = {folder(item) for item in loaded}
    sections = ("checklist", "errors", "prevention", *(f"issue-{n}" for n in range(1, 6)))
    assert folders == {"explored", "incidents", *(name for name, section in SECTION_OF_FOLDER.items() if section in sections)}
    problems = [str(problem) for item in loaded for problem in item.problems]
    assert not problems, "\n".join(problems)
    for item in loaded:
        first = Path(item.source.name).read_text().splitlines()[0]
        assert first == "# yaml-language-server: $schema=" + "../" * (folder(item).count("/") + 1) + "schema.json", item.source.name
    names = [item.scenario.name for item in loaded]
    assert len(names) == len(set(names)), "scenario names are unique"


def test_each_scenario_names_the_guide_section_of_its_directory() -> None:
    for item in catalogue():
        scenario = item.scenario
        section = SECTION_OF_FOLDER.get(folder(item), folder(item))
        ids = covered_ids(scenario)
        if "imported" in scenario.tags:  # a field incident, as it happened: it proves the codes it got
            assert scenario.covers.error_codes, f"{item.source.name}: an imported incident names its error codes"
            continue
        assert scenario.covers.guide, f"{item.source.name}: names no guide item"
        if section == "errors":
            assert scenario.covers.error_codes, f"{item.source.name}: an errors/ scenario names its error code"
        elif section == "incidents":
            assert len(ids) >= 3, f"{item.source.name}: an incident combines several guide items"
        elif section == "explored":
            assert "explored" in scenario.tags and scenario.sim_seed is not None, (
                f"{item.source.name}: an explored finding is tagged `explored` and replays with its sim_seed"
            )
        else:
            assert any(i == section or i.startswith(section + ".") for i in ids), (
                f"{item.source.name}: covers nothing of section {section!r}: {ids}"
            )
        reserved = set(scenario.tags) & PYTEST_MARKS
        assert not reserved, f"{item.source.name}: tags become pytest marks; {reserved} would mean something else"
        if "pending" in scenario.tags:
            assert "PENDING (orchestrator)" in scenario.description, (
                f"{item.source.name}: a pending scenario says what the orchestrator does instead"
            )


def test_the_catalogue_covers_every_section_error_code_and_procedure_of_the_guide() -> None:
    scenarios = [item.scenario for item in catalogue()]
    passing = [s for s in scenarios if "pending" not in s.tags]
    report = matrix(from_scenarios(passing))
    assert report["summary"]["uncovered"] == [], "not asserted by a passing scenario"
    assert report["summary"]["percent"] == 100.0
    assert {s["id"]: (s["covered"], s["items"]) for s in report["sections"] if s["covered"] != s["items"]} == {}
    assert report["summary"]["covered_error_codes"] == report["summary"]["error_codes"] == len(guide.ERROR_CODES)


def _copy_with(tmp_path: Path, old: str, new: str) -> tuple[Path, int]:
    """The example scenario copied with one expectation changed; the line of the change."""
    text = EXAMPLE.read_text()
    assert text.count(old) == 1, f"{old!r} must occur once in {EXAMPLE.name}"
    copy = tmp_path / EXAMPLE.name
    changed = text.replace(old, new)
    if "RESTART_003" in old:  # a scenario claims only the codes it asserts
        changed = changed.replace("error_codes: [RESTART_003, RESTART_008]", "error_codes: [RESTART_008]")
    copy.write_text(changed)
    line = text[: text.index(old)].count("\n") + 1
    return copy, line


def _run(path: Path, workdir: Path):
    loaded = load_scenario(path)
    assert loaded.ok, loaded.problems
    return anyio.run(run_scenario, loaded, RunOptions(workdir=workdir))


@pytest.mark.live
@pytest.mark.parametrize(
    ("old", "new", "path", "expected", "actual"),
    [
        pytest.param(
            "    error_code: RESTART_003\n",
            "    error_code: RESTART_005\n",
            "error_code",
            '"RESTART_005"',
            '"RESTART_003"',
            id="wrong-error-code",
        ),
        pytest.param(
            "      success: true\n      duration:",
            "      success: false\n      duration:",
            "success",
            "false",
            "true",
            id="wrong-outcome",
        ),
    ],
)
def test_a_catalogue_scenario_with_a_wrong_expectation_fails_naming_line_expected_and_actual(
    tmp_path: Path, old: str, new: str, path: str, expected: str, actual: str
) -> None:
    copy, line = _copy_with(tmp_path, old, new)
    result = _run(copy, tmp_path / "runs")
    try:
        assert result.outcome == "failed", result.report()
        failure = result.failures[0]
        assert failure.file == str(copy) and failure.line == line, failure
        mismatch = next(m for m in failure.mismatches if m["path"] == path)
        assert (mismatch["line"], mismatch["expected"], mismatch["actual"]) == (line, expected, actual), failure.mismatches
        report = result.report()
        said = rf"{re.escape(f'{copy}:{line}: {path}')}\n\s+expected: {re.escape(expected)}\n\s+actual:   {re.escape(actual)}\n"
        assert re.search(said, report), report
        assert re.search(rf"reproduce: {re.escape(sys.executable)} -m chaos run \S*{copy.name}", report), report
    finally:
        if result.kept_dir:
            shutil.rmtree(result.kept_dir, ignore_errors=True)

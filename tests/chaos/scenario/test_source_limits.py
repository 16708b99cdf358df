"""Only what aliases repeat is capped: a long scenario that spells everything out loads (a soak of
10,000 events writes one of 200,000 lines), and a refused generated scenario is shown in part."""

from __future__ import annotations

from pathlib import Path

import pytest

from chaos.explore.run import SHOWN_LINES, InvalidScenario, loaded
from chaos.scenario.source import MAX_REPEATED, read_source


def test_a_long_file_without_aliases_is_not_a_bomb():
    values = MAX_REPEATED + 5_000
    text = "steps:\n" + "".join(f"- {{sleep: {index}}}\n" for index in range(values // 2))
    source = read_source(Path("long.yaml"), text)
    assert source.problems == []
    assert len(source.data["steps"]) == values // 2


def test_aliases_that_repeat_more_than_the_cap_are_refused_with_their_line():
    anchor = "base: &b [" + ", ".join(["1"] * 1_000) + "]\n"
    uses = "".join(f"u{index}: *b\n" for index in range(MAX_REPEATED // 1_000 + 1))
    (problem,) = read_source(Path("many.yaml"), anchor + uses).problems
    assert problem.line == MAX_REPEATED // 1_000 + 1  # the use that went over: the anchor's own values do not count
    assert "expands to more than 100000 values through its aliases" in problem.message


def test_an_invalid_generated_scenario_is_shown_in_part(tmp_path: Path):
    text = "name: generated\nsteps:\n" + "".join(f"- {{bogus_step_{index}: 1}}\n" for index in range(500))
    with pytest.raises(InvalidScenario) as raised:
        loaded(text, tmp_path / "generated.yaml")
    message = str(raised.value)
    assert f"... ({502 - SHOWN_LINES} more lines)" in message
    assert "bogus_step_499" not in message

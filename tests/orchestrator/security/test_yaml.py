"""Finding 3: YAML alias bombs and self-containing aliases are a clear file:line problem, at once."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from chaos.scenario.source import read_source


def bomb(levels: int, width: int = 9) -> str:
    """Each level names the previous one `width` times: a few hundred bytes, width**levels values."""
    names = [f"l{i}" for i in range(levels + 1)]
    lines = [f"{names[0]}: &{names[0]} [{', '.join('x' * width)}]"]
    for previous, name in zip(names, names[1:], strict=False):
        lines.append(f"{name}: &{name} [{', '.join([f'*{previous}'] * width)}]")
    return "\n".join(lines) + "\n"


def problems(text: str) -> list[str]:
    return [str(problem) for problem in read_source(Path("bomb.yaml"), text).problems]


def test_an_alias_bomb_is_refused_in_milliseconds():
    text = bomb(levels=6)  # 9**7 values once expanded: about 4.8 million
    assert len(text) < 500
    started = time.perf_counter()
    found = problems(text)
    assert time.perf_counter() - started < 0.5
    assert len(found) == 1 and found[0].startswith("bomb.yaml:") and "expands to more than" in found[0], found


@pytest.mark.parametrize(
    "text, line",
    [("steps: &a [*a]\n", 1), ("name: x\nsteps: &a\n  - *a\n", 2), ("a: &a {<<: *a}\n", 1)],
    ids=["sequence", "block sequence", "merge"],
)
def test_a_value_containing_itself_is_a_problem_not_a_traceback(text, line):
    found = problems(text)
    assert len(found) == 1 and found[0].startswith(f"bomb.yaml:{line}:") and "contains it" in found[0], found


def test_deep_nesting_is_a_problem():
    text = "a: " + "[" * 200 + "]" * 200 + "\n"  # libyaml itself allows 1000 levels
    found = problems(text)
    assert len(found) == 1 and found[0].startswith("bomb.yaml:1:") and "nested" in found[0], found


def test_aliases_and_merges_within_bounds_still_work():
    source = read_source(Path("ok.yaml"), "base: &b {x: 1, y: 2}\nuse:\n  <<: *b\n  y: 3\nagain: *b\n")
    assert source.problems == []
    assert source.data == {"base": {"x": 1, "y": 2}, "use": {"y": 3, "x": 1}, "again": {"x": 1, "y": 2}}


def test_chaos_validate_reports_the_bomb_with_its_line(tmp_path, capsys):
    from chaos.cli import main

    path = tmp_path / "bomb.yaml"
    path.write_text(bomb(levels=6))
    assert main(["validate", str(path)]) != 0
    output = capsys.readouterr()
    assert "bomb.yaml:" in output.out + output.err and "expands to more than" in output.out + output.err

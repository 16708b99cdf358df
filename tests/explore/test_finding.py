"""A failure found by exploration is shrunk, written as a valid scenario file, and replays the same.

The failure is made on purpose by asserting a wrong table of documented outcomes: no restart may
fail at all. The first fault that fails one (a full disk, a hung task...) is then a finding; the
written file carries that wrong expectation itself, so it fails again on replay without any patch.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from chaos.cli import main
from chaos.engine.lifecycle import RunOptions
from chaos.explore import compile as compiler
from chaos.scenario import load_paths
from chaos.sim.run import run_simulated

SEED = 2


def test_a_wrong_outcome_is_shrunk_to_a_scenario_that_validates_and_replays(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(compiler, "causes", lambda situation: {})
    out = tmp_path / "found"
    status = main(["explore", "--seeds", "40", "--seed", str(SEED), "--max-steps", "2", "--out", str(out)])
    printed = capsys.readouterr().out
    assert status == 1, printed
    [written] = sorted(out.glob("*.yaml"))
    assert f"scenario: {written}" in printed
    replay = next(line for line in printed.splitlines() if line.startswith("replay:"))
    assert replay.split()[1:5] == ["python", "-m", "chaos", "run"] and "--mode sim --seed" in replay
    assert "replayed from the file: the same failure" in printed

    text = written.read_text()
    assert text.startswith("# yaml-language-server: $schema=../schema.json\n")
    assert main(["validate", str(written)]) == 0
    [loaded] = load_paths([written])[0]
    scenario = loaded.scenario
    assert scenario is not None and scenario.name == written.stem
    assert f"--seed {SEED}" in scenario.description
    assert len(scenario.steps) <= 8  # start, at most two moves, heals, the two final restarts

    monkeypatch.undo()  # the file alone fails the same way: its restart expects success
    seed = int(replay.rsplit(" ", 1)[1])
    again = run_simulated(loaded, RunOptions(workdir=tmp_path / "replay", mode="sim", seed=seed))
    assert again.outcome == "failed"
    assert any(m["path"] == "error_code" or m["path"] == "success" for f in again.failures for m in f.mismatches)

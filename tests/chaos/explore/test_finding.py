"""A failure found by exploration is shrunk, written as a valid scenario file, and replays the same.

The failure is made on purpose by asserting a wrong table of documented outcomes: no restart may
fail at all. The first fault that fails one (a full disk, a hung task...) is then a finding; the
written file carries that wrong expectation itself, so it fails again on replay without any patch.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import anyio
import pytest

from chaos.cli import main
from chaos.engine.lifecycle import RunOptions, run_one
from chaos.explore import compile as compiler
from chaos.scenario import load_paths
from chaos.waiting import wait_until

SEED = 2


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_wrong_outcome_is_shrunk_to_a_scenario_that_validates_and_replays(
    jobs: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(compiler, "causes", lambda situation: {})  # forked parts inherit it
    out = tmp_path / "found"
    argv = ["explore", "--seeds", "40", "--seed", str(SEED), "--max-steps", "2", "--out", str(out), "--jobs", str(jobs)]
    status = main(argv)
    printed = capsys.readouterr().out
    assert status == 1, printed
    [written] = sorted(out.glob("*.yaml"))
    assert f"scenario: {written}" in printed
    replay = next(line for line in printed.splitlines() if line.startswith("replay:"))
    assert replay.split()[1] == sys.executable and replay.split()[2:5] == ["-m", "chaos", "run"] and "--mode sim --seed" in replay
    assert "replayed from the file: the same failure" in printed

    text = written.read_text()
    assert text.startswith("# yaml-language-server: $schema=../schema.json\n")
    assert main(["validate", str(written)]) == 0
    [loaded] = load_paths([written])[0]
    scenario = loaded.scenario
    assert scenario is not None and scenario.name == written.stem
    assert any(f"explore --seed {seed}," in scenario.description for seed in range(SEED, SEED + jobs)), "the part's own seed"
    assert len(scenario.steps) <= 8  # start, at most two moves, heals, the two final restarts

    monkeypatch.undo()  # the file alone fails the same way: its restart expects success
    seed = int(replay.rsplit(" ", 1)[1])
    again = run_one(loaded, RunOptions(workdir=tmp_path / "replay", mode="sim", seed=seed))
    assert again.outcome == "failed"
    assert any(f.where.endswith(" restart") and "orchestrator_restart_server failed" in f.message for f in again.failures)


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_clean_exploration_says_so_and_exits_0(jobs: int, capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["explore", "--seeds", "4", "--seed", "3", "--max-steps", "2", "--jobs", str(jobs)])
    printed = capsys.readouterr().out
    assert status == 0, printed
    assert "nothing found: every restart ended as the guide documents" in printed
    run, inapplicable = map(int, re.search(r"(\d+) schedule\(s\) run \((\d+) inapplicable\)", printed.splitlines()[-2]).groups())
    assert run - inapplicable == 4


def test_ctrl_c_stops_every_part_and_leaves_no_directory(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "chaos", "explore", "--seeds", "100000", "--seed", "1", "--jobs", "2"]
    explorer = subprocess.Popen(command, env={**os.environ, "TMPDIR": str(tmp_path)}, start_new_session=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        anyio.run(wait_until, lambda: len(list(tmp_path.glob("chaos-explore-*/part*"))) == 2, 60, "both parts to start")
        os.killpg(explorer.pid, signal.SIGINT)  # what Ctrl-C does: the whole foreground group
        out, err = explorer.communicate(timeout=60)
    finally:
        if explorer.poll() is None:
            os.killpg(explorer.pid, signal.SIGKILL)
            explorer.wait()
    assert explorer.returncode == 130, (out, err)
    assert err.startswith("interrupted"), err
    assert "Traceback" not in err
    assert list(tmp_path.iterdir()) == [], "the parts' directories were removed"

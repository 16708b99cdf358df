"""The live/sim seam: make_target turns a mode into a target, and each target answers what the engine asks."""

from __future__ import annotations

from pathlib import Path

import pytest

from chaos.target import MODES, make_target, target_type
from tests.chaos.scenario.support import cli


def test_each_mode_has_a_target_of_that_name_and_nothing_else_is_one():
    assert [target_type(mode).name for mode in MODES] == list(MODES)
    with pytest.raises(ValueError, match="unknown mode 'stage': one of live, sim"):
        make_target("stage")


def test_only_the_simulated_target_keeps_a_seed_and_replays():
    live, sim = make_target("live", 7), make_target("sim", 7)
    assert (live.seed, live.replayable, live.concurrent, live.real_time) == (None, False, True, True)
    assert (sim.seed, sim.replayable, sim.concurrent, sim.real_time) == (7, True, False, False)
    assert make_target("sim").seed == 0  # no seed: the same run every time


def test_a_simulated_run_s_directory_is_the_same_on_every_replay_and_a_live_one_is_new(tmp_path: Path):
    sim = make_target("sim", 3)
    assert sim.scenario_root("a b/c", tmp_path) == sim.scenario_root("a b/c", tmp_path) == tmp_path / "a-b-c-seed3"
    live = make_target("live")
    assert live.scenario_root("a", tmp_path) != live.scenario_root("a", tmp_path)


def test_a_seed_for_a_live_run_is_refused_with_what_to_do(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    assert cli(["run", "scenarios/guide", "--seed", "4", "--report", str(tmp_path)]) == 2
    assert "--seed replays a simulated run; a live run cannot be replayed (add --mode sim)" in capsys.readouterr().err
    assert not (tmp_path / "journal.json").exists()

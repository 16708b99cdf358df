"""The search: the same seed draws the same schedules; a finding is shrunk; inapplicable ones are dropped.

A stand-in runner judges schedules here (no simulation), so these run in a second or two.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from chaos.explore.judge import Verdict
from chaos.explore.parallel import explore_in_parts, shares
from chaos.explore.schedule import KillWorker, Schedule, StartPlan
from chaos.explore.search import explore

PASSED = Verdict("passed")


def _drawn(seed: int, count: int = 25) -> list[Schedule]:
    seen: list[Schedule] = []

    def run(schedule: Schedule) -> Verdict:
        seen.append(schedule)
        return PASSED

    exploration = explore(seed, count, max_moves=4, run=run)
    assert exploration.schedule is None and exploration.tally.runs == len(seen)
    return seen


def test_the_same_seed_draws_the_same_schedules() -> None:
    first, again, other = _drawn(3), _drawn(3), _drawn(4)
    assert first == again
    assert first != other
    assert len({repr(schedule) for schedule in first}) == len(first) == 25


def test_a_finding_is_shrunk_to_the_move_that_causes_it() -> None:
    def run(schedule: Schedule) -> Verdict:
        kills = [move for move in schedule.moves if isinstance(move, KillWorker)]
        return Verdict("finding", "a kill", "report") if kills else PASSED

    exploration = explore(5, 200, max_moves=6, run=run)
    assert exploration.verdict is not None and exploration.verdict.signature == "a kill"
    assert exploration.schedule == Schedule(StartPlan(), (KillWorker(verify_recovery=False),), seed=0)
    assert exploration.tally.explored < exploration.tally.runs  # then it shrank
    assert not exploration.flaky


def test_inapplicable_schedules_are_counted_and_do_not_count_as_run() -> None:
    def run(schedule: Schedule) -> Verdict:
        return Verdict("inapplicable", "precondition") if schedule.seed % 2 else PASSED

    exploration = explore(6, 20, max_moves=2, run=run)
    tally = exploration.tally
    assert exploration.schedule is None
    assert tally.inapplicable > 0
    assert tally.runs - tally.inapplicable == 20


def test_schedules_are_shared_out_evenly_and_no_part_gets_none() -> None:
    assert shares(10, 3) == [4, 3, 3]
    assert shares(2, 4) == [1, 1]


def test_parts_are_the_searches_of_consecutive_seeds_side_by_side(tmp_path: Path) -> None:
    def run(schedule: Schedule, workdir: Path) -> Verdict:
        with open(tmp_path / f"part-{os.getpid()}.txt", "a") as drawn:
            drawn.write(repr(schedule) + "\n")
        return PASSED

    exploration, total = explore_in_parts(3, 20, 2, 4, run, lambda tally: None, tmp_path / "work")
    assert exploration.schedule is None and total.runs == 20
    by_part = {frozenset(path.read_text().splitlines()) for path in tmp_path.glob("part-*.txt")}
    assert by_part == {frozenset(map(repr, _drawn(3, 10))), frozenset(map(repr, _drawn(4, 10)))}


def test_the_first_finding_of_any_part_stops_them_all(tmp_path: Path) -> None:
    """The first part to run claims the finder's role; the other never finds anything, and would
    run its whole share of 100,000 if the finding did not stop it."""

    def run(schedule: Schedule, workdir: Path) -> Verdict:
        try:
            claim = os.open(tmp_path / "finder", os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            os.write(claim, str(os.getpid()).encode())
            os.close(claim)
        except FileExistsError:
            pass
        finder = (tmp_path / "finder").read_text() == str(os.getpid())
        with open(tmp_path / f"runs-{os.getpid()}", "a") as runs:
            runs.write("x")
        kills = [move for move in schedule.moves if isinstance(move, KillWorker)]
        return Verdict("finding", "a kill", "report") if finder and kills else PASSED

    exploration, total = explore_in_parts(5, 200_000, 2, 6, run, lambda tally: None, tmp_path / "work")
    assert exploration.verdict is not None and exploration.verdict.signature == "a kill"
    assert exploration.schedule is not None and len(exploration.schedule.moves) == 1
    assert exploration.seed in (5, 6)
    other = next(path for path in tmp_path.glob("runs-*") if path.name != f"runs-{(tmp_path / 'finder').read_text()}")
    assert 0 < len(other.read_text()) < 100_000, "the other part stopped instead of running its share"


def test_a_part_that_dies_is_an_error_not_a_wait(tmp_path: Path) -> None:
    def run(schedule: Schedule, workdir: Path) -> Verdict:
        os._exit(3)

    with pytest.raises(RuntimeError, match=r"died without a result \(exit status 3\)"):
        explore_in_parts(1, 10, 2, 2, run, lambda tally: None, tmp_path)

"""The search: the same seed draws the same schedules; a finding is shrunk; inapplicable ones are dropped.

A stand-in runner judges schedules here (no simulation), so these run in a second or two.
"""

from __future__ import annotations

from chaos.explore.judge import Verdict
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

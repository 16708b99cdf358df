"""The search: hypothesis draws schedules, each is run and judged, the first finding is shrunk.

Hypothesis is driven through its public API: `given` a strategy, `settings` (how many schedules,
no example database, quiet), `seed` (the same seed draws the same schedules). A finding is raised
as an exception whose type is made from its signature, so hypothesis tells different failures
apart and keeps shrinking towards schedules that fail the same way; an inapplicable schedule is
rejected. Hypothesis runs the shrunk schedule last, so the last finding seen is the minimal one;
a last pass then drops the moves it left that the failure does not need.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import ClassVar

import hypothesis
from hypothesis import HealthCheck, Phase, Verbosity, given, reject, settings
from hypothesis.errors import Flaky, Unsatisfiable

from chaos.errors import HarnessError
from chaos.explore.judge import Verdict
from chaos.explore.schedule import Schedule
from chaos.explore.strategies import schedules
from orchestrator import clock


class ScheduleFailed(HarnessError, AssertionError):
    signature: ClassVar[str] = ""


_FAILURE_TYPES: dict[str, type[ScheduleFailed]] = {}


def failure_type(signature: str) -> type[ScheduleFailed]:
    """One exception type per signature: hypothesis tells failures apart by their type."""
    if signature not in _FAILURE_TYPES:
        _FAILURE_TYPES[signature] = type("ScheduleFailed", (ScheduleFailed,), {"signature": signature})
    return _FAILURE_TYPES[signature]


@dataclass
class Tally:
    runs: int = 0  # every run: the schedules explored, then the shrinking
    inapplicable: int = 0
    failing: int = 0  # runs that found something: the first finding, then every failing shrink step
    explored: int = 0  # runs up to the first finding (all of them if there is none)
    started: float = field(default_factory=clock.monotonic)

    def count(self, verdict: Verdict) -> None:
        self.runs += 1
        self.inapplicable += verdict.outcome == "inapplicable"
        if not self.failing:
            self.explored = self.runs
        self.failing += verdict.found

    @property
    def seconds(self) -> float:
        return clock.monotonic() - self.started

    @property
    def per_second(self) -> float:
        return self.runs / self.seconds if self.seconds > 0 else 0.0


@dataclass
class Exploration:
    seed: int
    tally: Tally
    schedule: Schedule | None = None  # the shrunk failing schedule
    verdict: Verdict | None = None
    flaky: bool = False  # the shrunk schedule did not fail again: it is the last one that did
    note: str = ""


def explore(
    seed: int,
    count: int,
    max_moves: int,
    run: Callable[[Schedule], Verdict],
    progress: Callable[[Tally], None] = lambda tally: None,
) -> Exploration:
    """Run up to `count` applicable schedules of up to `max_moves` moves; shrink the first finding."""
    tally = Tally()
    exploration = Exploration(seed, tally)

    @hypothesis.seed(seed)
    @settings(
        max_examples=count,
        database=None,
        deadline=None,
        phases=(Phase.generate, Phase.shrink),
        report_multiple_bugs=False,
        suppress_health_check=list(HealthCheck),
        verbosity=Verbosity.quiet,
        print_blob=False,
    )
    @given(schedules(max_moves))
    def one_schedule(schedule: Schedule) -> None:
        verdict = run(schedule)
        tally.count(verdict)
        progress(tally)
        if verdict.outcome == "inapplicable":
            reject()
        if verdict.found:
            exploration.schedule, exploration.verdict = schedule, verdict
            raise failure_type(verdict.signature)(verdict.report)

    try:
        one_schedule()
    except ScheduleFailed:
        _drop_unneeded_moves(exploration, run)
    except Flaky:
        exploration.flaky = True
    except Unsatisfiable as exc:
        exploration.note = f"hypothesis gave up: {exc}"
    return exploration


def _drop_unneeded_moves(exploration: Exploration, run: Callable[[Schedule], Verdict]) -> None:
    """Hypothesis's shrinker sometimes keeps a move it simplified to the plainest one (a default
    restart before the move that matters): drop each move the failure does not need, one at a time."""
    assert exploration.schedule is not None and exploration.verdict is not None
    index = 0
    while index < len(exploration.schedule.moves):
        moves = exploration.schedule.moves
        shorter = replace(exploration.schedule, moves=moves[:index] + moves[index + 1 :])
        verdict = run(shorter)
        exploration.tally.count(verdict)
        if verdict.signature == exploration.verdict.signature:
            exploration.schedule, exploration.verdict = shorter, verdict
        else:
            index += 1

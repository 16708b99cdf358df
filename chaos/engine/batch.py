"""Running many scenarios: on a target that allows it, up to N at once, the longest first.

Live scenarios run as tasks of one event loop: the work is in the orchestrator processes each one
starts, and every scenario has its own directory, port (0) and processes, so they cannot meet.
A CapacityLimiter bounds how many run together. Simulated scenarios run one after another, each
on its own virtual clock and seed: a simulated run is CPU only, so two at once would not be faster.

They start in order of expected duration, longest first: a long scenario started last would run
on alone while the other slots sit idle. The expected duration is how long the scenario took
when it last passed, as the journals of earlier runs (reports/<time>/journal.json) recorded
it. A scenario never measured goes before all measured ones (it may be long, and the next run
knows), those tagged `slow` (they wait out a restart timeout) first among them.
"""

from __future__ import annotations

import json
from pathlib import Path

import anyio

from chaos.engine.failure import ScenarioResult
from chaos.engine.lifecycle import Reporter, RunOptions, run_one, run_scenario
from chaos.report.journal import REPORTS
from chaos.scenario import Loaded
from chaos.target import make_target, target_type

RECENT_JOURNALS = 10  # enough to find every scenario after a few runs of subsets (-k)


def _modified(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0  # removed meanwhile: reading it is skipped


def journal_durations(journal: Path) -> dict[str, float]:
    """Scenario name -> seconds it took, for each scenario that passed in one run's journal.json."""
    scenarios = json.loads(journal.read_text())["scenarios"]
    return {scenario["name"]: scenario["duration_s"] for scenario in scenarios if scenario.get("outcome") == "passed"}


def recorded_durations(reports: Path | None = None) -> dict[str, float]:
    """Scenario name -> seconds its latest passing run took, from the newest journals under `reports`
    (by modification time: runs may name their report folders as they like)."""
    reports = REPORTS if reports is None else reports
    durations: dict[str, float] = {}
    journals = sorted(reports.glob("*/journal.json"), key=_modified, reverse=True)
    for journal in journals[:RECENT_JOURNALS]:
        try:
            found = journal_durations(journal)
        except (OSError, ValueError, KeyError, TypeError):
            continue  # a journal being written, or from another version: ordering is only a hint
        durations = found | durations  # the newer journal's figure wins
    return durations


def longest_first(loaded: list[Loaded], durations: dict[str, float]) -> list[int]:
    """Indexes of `loaded` in the order to start them: never measured (slow ones first), then longest recorded."""

    def expected(index: int) -> tuple[int, float]:
        scenario = loaded[index].scenario
        assert scenario is not None
        if scenario.name in durations:
            return (1, -durations[scenario.name])
        return (0, 0.0 if "slow" in scenario.tags else 1.0)

    return sorted(range(len(loaded)), key=expected)  # stable: file order among equals


def enough_failures(results: list[ScenarioResult], maxfail: int | None) -> bool:
    """Whether `-x/--maxfail N` says to start no more scenarios: N have failed or erred."""
    return maxfail is not None and sum(result.outcome in ("failed", "error") for result in results) >= maxfail


async def _side_by_side(
    loaded: list[Loaded], jobs: int, options: RunOptions, reporter: Reporter | None, durations: dict[str, float] | None, maxfail: int | None
) -> list[ScenarioResult]:
    """Run every scenario on this event loop, up to `jobs` at once; the results in the order of `loaded`.

    `durations` (scenario name -> expected seconds) orders the start; by default, as recorded.
    After `maxfail` failures no scenario starts (those running finish): the results omit them.
    """
    limiter = anyio.CapacityLimiter(max(1, jobs))
    results: list[ScenarioResult | None] = [None] * len(loaded)
    order = longest_first(loaded, recorded_durations() if durations is None else durations)

    async def one(index: int, item: Loaded) -> None:
        async with limiter:
            if not enough_failures([result for result in results if result is not None], maxfail):
                results[index] = await run_scenario(item, options, reporter)

    async with anyio.create_task_group() as group:
        for index in order:  # the limiter admits waiting tasks in the order they asked
            group.start_soon(one, index, loaded[index])
    return [result for result in results if result is not None]


def run_many(
    loaded: list[Loaded],
    jobs: int,
    options: RunOptions,
    reporter: Reporter | None = None,
    durations: dict[str, float] | None = None,
    maxfail: int | None = None,
) -> list[ScenarioResult]:
    """Run every scenario on `options.mode`'s target: side by side where it allows, else one after
    another; after `maxfail` failures no more start."""
    if target_type(options.mode).concurrent:
        return make_target(options.mode, options.seed).execute(_side_by_side, loaded, jobs, options, reporter, durations, maxfail)
    results: list[ScenarioResult] = []
    for item in loaded:
        if enough_failures(results, maxfail):
            break
        results.append(run_one(item, options, reporter))
    return results

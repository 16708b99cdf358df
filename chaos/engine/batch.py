"""Running many scenarios, up to N at once, the longest first.

Scenarios run as tasks of one event loop: the work is in the orchestrator processes each one
starts, and every scenario has its own directory, port (0) and processes, so they cannot meet.
A CapacityLimiter bounds how many run together.

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
from chaos.engine.lifecycle import Reporter, RunOptions, run_scenario
from chaos.report import default_directory
from chaos.scenario import Loaded

RECENT_JOURNALS = 10  # enough to find every scenario after a few runs of subsets (-k)


def _modified(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0  # removed meanwhile: reading it is skipped


def recorded_durations(reports: Path | None = None) -> dict[str, float]:
    """Scenario name -> seconds its latest passing run took, from the newest journals under `reports`
    (by modification time: runs may name their report folders as they like)."""
    reports = default_directory().parent if reports is None else reports
    durations: dict[str, float] = {}
    journals = sorted(reports.glob("*/journal.json"), key=_modified, reverse=True)
    for journal in journals[:RECENT_JOURNALS]:
        try:
            scenarios = json.loads(journal.read_text())["scenarios"]
        except (OSError, ValueError, KeyError, TypeError):
            continue  # a journal being written, or from another version: ordering is only a hint
        for scenario in scenarios:
            if scenario.get("outcome") == "passed":
                durations.setdefault(scenario["name"], scenario["duration_s"])
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


async def run_all(
    loaded: list[Loaded],
    jobs: int,
    options: RunOptions,
    reporter: Reporter | None = None,
    durations: dict[str, float] | None = None,
) -> list[ScenarioResult]:
    """Run every scenario, up to `jobs` at once; the results in the order of `loaded`.

    `durations` (scenario name -> expected seconds) orders the start; by default, as recorded.
    """
    limiter = anyio.CapacityLimiter(max(1, jobs))
    results: list[ScenarioResult | None] = [None] * len(loaded)
    order = longest_first(loaded, recorded_durations() if durations is None else durations)

    async def one(index: int, item: Loaded) -> None:
        async with limiter:
            results[index] = await run_scenario(item, options, reporter)

    async with anyio.create_task_group() as group:
        for index in order:  # the limiter admits waiting tasks in the order they asked
            group.start_soon(one, index, loaded[index])
    return [result for result in results if result is not None]

"""Running scenarios in sim mode: one trio event loop per scenario, on a virtual clock, seeded.

Everything a run reads that could differ between two runs comes from here: the loop's clock
(MockClock), the wall clock (a freezegun clock moved with the virtual one), the ids the orchestrator
makes up (a Random seeded from the run's seed), the order in which trio runs tasks that are ready
at the same moment (seeded too), and where blocking work runs (inline, one thread). So the same
seed gives the same journal, byte for byte.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import anyio

from chaos.engine.batch import enough_failures
from chaos.engine.failure import ScenarioResult
from chaos.engine.lifecycle import Reporter, RunOptions, run_scenario, skipped_result
from chaos.scenario import Loaded
from chaos.target.sim.clock import SimulatedClock
from chaos.target.sim.support import sim_blockers
from orchestrator import blocking, entropy

T = TypeVar("T")


def simulate(function: Callable[..., Awaitable[T]], *args: Any, seed: int) -> T:
    """Run `function(*args)` in simulated time with everything random drawn from `seed`."""
    sim_clock = SimulatedClock()
    _seed_scheduler(seed)
    with sim_clock.installed(), entropy.seeded(random.Random(seed)), blocking.inline():
        return anyio.run(function, *args, backend="trio", backend_options={"clock": sim_clock.loop_clock})


def _seed_scheduler(seed: int) -> None:
    """trio runs the tasks that are ready at once in a random order (to flush out ordering
    assumptions), from a Random of its own: seed it, in the deterministic mode trio's Hypothesis
    plugin uses, or two runs of one seed interleave their tasks differently. trio has no public
    switch for this; these are the two names its plugin sets."""
    from trio._core import _run as trio_run

    setattr(trio_run, "_ALLOW_DETERMINISTIC_SCHEDULING", True)  # noqa: B010 (a Final of trio's)
    trio_run._r.seed(seed)


def run_simulated(loaded: Loaded, options: RunOptions, reporter: Reporter | None = None) -> ScenarioResult:
    assert loaded.scenario is not None
    if options.seed is None:  # the scenario's own seed: an explored finding replays as it was found
        options = dataclasses.replace(options, seed=loaded.scenario.sim_seed or 0)
    blockers = sim_blockers(loaded.scenario)
    if blockers:
        with SimulatedClock().installed():  # its journal's times too are the simulation's, not the wall's
            result = skipped_result(loaded, blockers, "sim", options.seed)
        if reporter:
            reporter.scenario_started(result.name, result.file)
            reporter.scenario_finished(result)
        return result
    return simulate(run_scenario, loaded, options, reporter, seed=options.seed)


def run_all_simulated(
    loaded: list[Loaded], options: RunOptions, reporter: Reporter | None = None, maxfail: int | None = None
) -> list[ScenarioResult]:
    """One after another: a simulated run is CPU only, so running two at once would not be faster.
    After `maxfail` failures the rest are not run (as chaos.engine.batch.run_all)."""
    results: list[ScenarioResult] = []
    for item in loaded:
        if enough_failures(results, maxfail):
            break
        results.append(run_simulated(item, options, reporter))
    return results

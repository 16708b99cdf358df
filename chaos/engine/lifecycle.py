"""One scenario from start to finish: steps, `finally` steps, healing, invariants, and stopping everything.

The order matters. Steps run until one fails; `finally` steps always run; loads stop and every
fault still injected is healed while the orchestrator can still be asked questions; the live and
file invariants are judged; the orchestrator is stopped; then the leftovers are judged.
Whatever happens on the way (a failure, an error, Ctrl-C), the shielded cleanup at the end stops
loads, heals faults and stops the orchestrator, so a run never leaves anything behind.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import anyio

from chaos.engine.context import Run, StepFailed
from chaos.engine.failure import Failure, ScenarioResult, describe_error, response_excerpt
from chaos.engine.steps import execute, heal
from chaos.report.journal import ScenarioJournal, StepRecord
from chaos.scenario import Loaded, Scenario
from chaos.scenario.model import Step
from chaos.scenario.source import Loc, dotted
from chaos.target import make_target
from chaos.target.base import Target
from chaos.verdict.checks import History, Verdict
from chaos.verdict.invariants import file_verdicts, leftover_verdicts, live_verdicts
from orchestrator import clock

FINALLY_TIMEOUT_S = 120.0
CLEANUP_TIMEOUT_S = 60.0


class Reporter(Protocol):
    def scenario_started(self, name: str, file: str) -> None: ...
    def step_finished(self, name: str, record: StepRecord) -> None: ...
    def scenario_finished(self, result: ScenarioResult) -> None: ...


@dataclass
class RunOptions:
    workdir: Path | None = None  # where each scenario's own directory is made (default: the system temp dir)
    keep: bool = False  # keep the directory of a passing scenario too
    mode: str = "live"  # the target (chaos.target.make_target): live processes, or "sim" (in-process, virtual time)
    seed: int | None = None  # sim mode: the seed of every random choice (None: each scenario's sim_seed, else 0)
    require_real: bool = False  # fail a scenario at any fault that falls back instead of being real

    def target_for(self, scenario: Scenario) -> Target:
        """The target of one run of `scenario`: an explored finding replays with the seed it was found with."""
        return make_target(self.mode, scenario.sim_seed if self.seed is None else self.seed)


def run_one(loaded: Loaded, options: RunOptions, reporter: Reporter | None = None) -> ScenarioResult:
    """Run one scenario on an event loop of its own target's (a simulated one: its own virtual clock and seed)."""
    assert loaded.scenario is not None
    target = options.target_for(loaded.scenario)
    return target.execute(run_scenario, loaded, options, reporter, target)


async def run_scenario(
    loaded: Loaded, options: RunOptions | None = None, reporter: Reporter | None = None, target: Target | None = None
) -> ScenarioResult:
    """Run one scenario on the running event loop, which must be `target`'s (by default a new one of `options.mode`)."""
    options = options or RunOptions()
    assert loaded.scenario is not None
    scenario = loaded.scenario
    target = target or options.target_for(scenario)
    blockers = target.blockers(scenario)
    if blockers:
        result = skipped_result(loaded, blockers, target.name, target.seed)
        if reporter:
            reporter.scenario_started(result.name, result.file)
            reporter.scenario_finished(result)
        return result
    if options.workdir:
        options.workdir.mkdir(parents=True, exist_ok=True)
    root = target.scenario_root(scenario.name, options.workdir)
    run = Run(loaded, root, target)
    run.reporter = reporter
    run.require_real = options.require_real
    if reporter:
        reporter.scenario_started(scenario.name, run.source.name)
    started = clock.monotonic()
    failures: list[Failure] = []
    verdicts: list[Verdict] = []
    enabled = [name for name, on in scenario.invariant_switches().model_dump().items() if on]
    async with anyio.create_task_group() as background:  # holds the orchestrator and the loads
        run.background = background
        try:
            await _steps(run, scenario.steps, ("steps",), scenario.timeout, failures, stop_at_first=True)
            await _steps(run, scenario.finally_, ("finally",), FINALLY_TIMEOUT_S, failures, stop_at_first=False)
            for load in list(run.loads.values()):
                await _guarded(run, failures, load.loc, load.finish())
            for handle in list(run.faults):
                await _guarded(run, failures, ("steps",), heal(run, handle))
            live = await _guarded(run, failures, ("invariants",), live_verdicts(run, enabled, ("invariants",)))
            verdicts += (live if isinstance(live, list) else []) + file_verdicts(run, enabled)
        finally:
            with anyio.CancelScope(shield=True), anyio.move_on_after(CLEANUP_TIMEOUT_S):
                await cleanup(run)
    verdicts += leftover_verdicts(run, enabled)
    failures += [_broken(run, verdict) for verdict in verdicts if verdict.ok is False]
    outcome = "passed"
    if failures:
        outcome = "failed" if any(f.kind == "failed" for f in failures) else "error"
    duration = clock.monotonic() - started
    journal = run.journal.public(run.history, verdicts, outcome, [f.public() for f in failures], duration)
    kept = None
    if outcome == "passed" and not options.keep:
        shutil.rmtree(root, ignore_errors=True)
    else:
        kept = str(root)
    result = ScenarioResult(scenario.name, run.source.name, outcome, duration, failures, journal, kept, scenario, target.seed)
    if reporter:
        reporter.scenario_finished(result)
    return result


def skipped_result(loaded: Loaded, reasons: list[str], mode: str, seed: int | None = None) -> ScenarioResult:
    """A scenario this mode cannot run, reported with why (and what it would need), never run half-way."""
    scenario = loaded.scenario
    assert scenario is not None
    journal = ScenarioJournal(scenario.name, loaded.source.name, scenario.description, scenario.covers.model_dump(), list(scenario.tags))
    journal.note(f"not run in {mode} mode: " + "; ".join(reasons))
    public = journal.public(History(), [], "skipped", [], 0.0)
    return ScenarioResult(scenario.name, loaded.source.name, "skipped", 0.0, [], public, None, scenario, seed)


async def _steps(run: Run, steps: list[Step], loc: Loc, timeout_s: float, failures: list[Failure], stop_at_first: bool) -> None:
    with anyio.move_on_after(timeout_s) as scope:
        for index, step in enumerate(steps):
            outcome = await _guarded(run, failures, (*loc, index), execute(run, step, (*loc, index)))
            if outcome is _FAILED and stop_at_first:
                return
    if scope.cancelled_caught:
        running = next((s for s in reversed(run.journal.steps) if s.outcome in ("running", "cancelled")), None)
        where = running.loc if running else dotted(loc)
        failures.append(
            Failure(run.source.name, running.line if running else run.line(loc), where, f"scenario timeout of {timeout_s:g}s ran out during this step")
        )


_FAILED = object()


async def _guarded(run: Run, failures: list[Failure], loc: Loc, awaitable: Any) -> Any:
    """Await; turn a StepFailed or any error into a Failure (returned as _FAILED) instead of raising."""
    try:
        return await awaitable
    except StepFailed as exc:
        failures.append(_failure(run, exc))
    except Exception as exc:
        failures.append(Failure(run.source.name, run.line(loc), dotted(loc), describe_error(exc), kind="error"))
    return _FAILED


def _failure(run: Run, exc: StepFailed) -> Failure:
    step_loc = _step_loc(exc.loc)
    mismatches = [
        {"path": m.path, "expected": m.expected, "actual": m.actual, "line": run.line(m.loc or exc.loc)} for m in exc.mismatches
    ]
    line = mismatches[0]["line"] if mismatches else run.line(exc.loc)
    kind = next((r.kind for r in reversed(run.journal.steps) if r.loc == dotted(step_loc)), "")
    return Failure(
        run.source.name, line, f"{dotted(step_loc)} {kind}".strip(), exc.message, "failed", mismatches, response_excerpt(exc.response)
    )


def _step_loc(loc: Loc) -> Loc:
    """The location of the step itself within a deeper location (steps[3].expect.phase -> steps[3])."""
    last = max((i for i, part in enumerate(loc) if isinstance(part, int)), default=len(loc) - 1)
    return loc[: last + 1]


def _broken(run: Run, verdict: Verdict) -> Failure:
    loc: Loc = ("invariants",) if "invariants" in run.source.data else ("name",)
    return Failure(run.source.name, run.line(loc), "invariant", f"{verdict.name} broken: {verdict.detail}")


async def cleanup(run: Run) -> None:
    """Idempotent: stop loads, heal faults, stop the orchestrator, end stray processes of this run."""
    for load in run.loads.values():
        load.stopping.set()
    for handle in list(run.faults):
        try:
            await heal(run, handle)
        except Exception as exc:  # keep cleaning; the journal says what could not be healed
            run.journal.note(f"healing {handle} failed during cleanup: {exc}")
    if run.server is not None:
        await run.server.stop()
    run.target.end_strays(run.root, run.journal.note)

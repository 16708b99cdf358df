"""One soak: the nemesis's events one after another while the workload runs, then the checker.

The events are one scenario (chaos.soak.nemesis.story), run step by step by the scenario engine
on a `Run`, so every call, restart phase and fault is in the run's journal; the workload calls
through the same `Run` beside it. Each event opens a window when its first step starts and closes
it once the orchestrator serves again; a quiet spell (seeded) follows, when the workload runs
undisturbed. Once the events are done the workload stops, faults left are healed, the end-of-run
invariants are judged, the orchestrator is stopped, and the checker reads the database. A live
soak stops its events after MAX_NEMESIS_FINDINGS failed checks of the nemesis (the story is broken
by then; more events would only repeat it and take their timeouts each). In sim mode everything
(clock, ids, task order, the seeded choices) comes from the seed, so a seed replays exactly.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio

from chaos.engine.context import Run
from chaos.engine.failure import Failure, ScenarioResult, describe_error
from chaos.engine.lifecycle import cleanup
from chaos.engine.steps import execute, heal
from chaos.explore.compile import ENDING, PRECONDITION
from chaos.explore.judge import FAILED
from chaos.explore.run import loaded
from chaos.explore.yaml_text import scenario_yaml
from chaos.scenario import Loaded
from chaos.soak import nemesis
from chaos.soak.checker import DEFAULT_MAX_FAILED, Verdict, Window, check, read_database
from chaos.soak.workload import CLIENT_PREFIX, Workload
from chaos.target import make_target, target_type
from chaos.target.base import Target
from chaos.verdict.checks import Verdict as Invariant
from chaos.verdict.invariants import file_verdicts, leftover_verdicts, live_verdicts
from orchestrator import clock
from orchestrator.config import Paths

NAME = "soak"
MAX_NEMESIS_FINDINGS = 3
QUIET_S = {"live": (0.2, 1.0), "sim": (0.5, 3.0)}  # between two events: the workload runs undisturbed
PAUSE_S = {"live": 0.05, "sim": 0.5}  # at most between two calls of one client (a simulated call takes no time)
CLEANUP_TIMEOUT_S = 60.0


@dataclass
class SoakOptions:
    mode: str = "live"
    events: int = 30
    clients: int = 4
    seed: int = 0
    max_failed: float = DEFAULT_MAX_FAILED
    workdir: Path | None = None  # where the run's own directory is made (default: the system temp dir)

    @property
    def live(self) -> bool:
        """Whether the orchestrator runs as real processes in real time: starts then take time, and the
        nemesis has more moves (killing a replacement while it starts, a choice of transport)."""
        return target_type(self.mode).real_time


@dataclass
class EventOutcome:
    event: nemesis.Event
    outcome: str  # passed | inapplicable | failed
    message: str = ""
    window: Window | None = None

    def public(self, t0: float) -> dict[str, Any]:
        window = self.window
        return {
            "event": self.event.label,
            "kind": self.event.kind,
            "outcome": self.outcome,
            "message": self.message,
            "opened_s": round(window.opened - t0, 4) if window else None,
            "closed_s": round(window.closed - t0, 4) if window else None,
            "codes_allowed": list(self.event.codes),
        }


@dataclass
class SoakResult:
    options: SoakOptions
    story: nemesis.Story
    verdict: Verdict
    events: list[EventOutcome]
    scenario: ScenarioResult  # the story as a scenario run: journal, failures of the nemesis and invariants
    text: str  # the story's scenario file
    t0: float

    @property
    def passed(self) -> bool:
        return self.verdict.passed and self.scenario.passed

    @property
    def nemesis_findings(self) -> list[EventOutcome]:
        return [outcome for outcome in self.events if outcome.outcome == "failed"]

    def public(self) -> dict[str, Any]:
        """The journal's `soak` object: the checker's counts, then what the nemesis did."""
        return {
            "mode": self.options.mode,
            "seed": self.options.seed,
            "events": self.options.events,
            "clients": self.options.clients,
            **self.verdict.public(),
            "passed": self.passed,
            "nemesis_findings": len(self.nemesis_findings),
            "invariants_broken": [f.message for f in self.scenario.failures if f.where == "invariant"],
            "nemesis": [outcome.public(self.t0) for outcome in self.events],
        }


Progress = Callable[[int, EventOutcome, Run], None]


def run_soak(options: SoakOptions, progress: Progress = lambda done, outcome, run: None) -> SoakResult:
    """Run a soak to its end (Ctrl-C: KeyboardInterrupt, once everything it started is stopped)."""
    target = make_target(options.mode, options.seed)
    return target.execute(soak, options, progress, target)


def story_scenario(options: SoakOptions) -> tuple[nemesis.Story, str]:
    events = nemesis.Planner(options.seed, options.live, options.clients).events(options.events)
    story = nemesis.story(options.clients, events, options.live)
    description = f"python -m chaos soak --mode {options.mode} --seed {options.seed}: the nemesis's events, each settled and probed"
    return story, scenario_yaml(story.document(NAME, description, options.seed))


async def soak(options: SoakOptions, progress: Progress, target: Target) -> SoakResult:
    """The soak on the running event loop, which is `target`'s."""
    story, text = story_scenario(options)
    root = target.scenario_root(NAME, options.workdir)
    path = root / f"{NAME}.yaml"
    path.write_text(text)
    scenario = loaded(text, path)
    assert scenario.scenario is not None
    run = Run(scenario, root, target)
    started = clock.monotonic()
    failures: list[Failure] = []
    invariants: list[Invariant] = []
    outcomes: list[EventOutcome] = []
    enabled = [name for name, on in scenario.scenario.invariant_switches().model_dump().items() if on]
    quiet = random.Random(options.seed)
    async with anyio.create_task_group() as background:
        run.background = background
        try:
            await execute(run, scenario.scenario.steps[0], ("steps", 0))
            workload = Workload(run, options.clients, options.seed, PAUSE_S[options.mode])
            background.start_soon(workload.run_in_background)
            for event, span in story.spans:
                outcome = await _event(run, scenario, story, event, span, failures)
                outcomes.append(outcome)
                progress(len(outcomes), outcome, run)
                if sum(o.outcome == "failed" for o in outcomes) >= MAX_NEMESIS_FINDINGS and options.live:
                    run.journal.note(f"{MAX_NEMESIS_FINDINGS} checks of the nemesis failed: no more events")
                    break
                await anyio.sleep(quiet.uniform(*QUIET_S[options.mode]))
            await workload.finish()
            for handle in list(run.faults):
                await heal(run, handle)
            invariants += await live_verdicts(run, enabled, ("invariants",)) + file_verdicts(run, enabled)
        except Exception as exc:  # the harness could not go on: reported, and the checker still judges what ran
            failures.append(Failure(str(path), 1, "soak", describe_error(exc), kind="error"))
        finally:
            with anyio.CancelScope(shield=True), anyio.move_on_after(CLEANUP_TIMEOUT_S):
                await cleanup(run)
    invariants += leftover_verdicts(run, enabled)
    failures += [Failure(str(path), 1, "invariant", f"{v.name} broken: {v.detail}") for v in invariants if v.ok is False]
    records = [record for record in run.history.records if record.client.startswith(CLIENT_PREFIX)]
    verdict = check(records, read_database(Paths(run.base).database), [o.window for o in outcomes if o.window], options.max_failed)
    outcome = "error" if any(f.kind == "error" for f in failures) else "failed" if failures or not verdict.passed else "passed"
    duration = clock.monotonic() - started
    journal = run.journal.public(run.history, invariants, outcome, [f.public() for f in failures], duration)
    result = ScenarioResult(NAME, str(path), outcome, duration, failures, journal, str(root), scenario.scenario, target.seed)
    return SoakResult(options, story, verdict, outcomes, result, text, run.journal.t0)


async def _event(run: Run, scenario: Loaded, story: nemesis.Story, event: nemesis.Event, span: range, failures: list[Failure]) -> EventOutcome:
    """Run one event's steps. After a failed precondition the event did not happen: only its settle
    steps run. A failed check is a finding of the nemesis; the event's settle steps still run."""
    assert scenario.scenario is not None
    opened = clock.utc_now().timestamp()
    result = EventOutcome(event, "passed")
    for index in span:
        loc = ("steps", index)
        if result.outcome == "inapplicable" and story.roles[f"steps[{index}]"] != ENDING:
            continue
        first = len(run.journal.steps)
        try:
            await execute(run, scenario.scenario.steps[index], loc)
        except Exception as exc:
            step = _innermost_failed(run, first)
            role = story.roles.get(step["loc"], "") if step else ""
            message = step["message"] if step else describe_error(exc)
            if role == PRECONDITION:
                result.outcome, result.message = "inapplicable", f"{step['loc'] if step else ''}: {message}"
                continue
            where = f"{step['loc']} {step['kind']}" if step else f"steps[{index}]"
            failures.append(Failure(str(scenario.source.name), step["line"] if step else 1, f"{event.label} {where}", message))
            if result.outcome == "passed":
                result.outcome, result.message = "failed", f"{where}: {message}"
    result.window = Window(event.label, opened, clock.utc_now().timestamp(), event.codes)
    return result


def _innermost_failed(run: Run, first: int) -> dict[str, Any] | None:
    """The deepest step that failed since journal entry `first` (a parallel branch's rather than the parallel)."""
    failed = [step.public() for step in run.journal.steps[first:] if step.outcome in FAILED]
    return max(failed, key=lambda step: step["loc"].count("["), default=None)

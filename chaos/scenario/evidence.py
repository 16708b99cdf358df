"""What a scenario proves, from its assertions rather than from what it says it covers.

A guide item is proven by a step that names it in its own `covers` and asserts something (an
`expect`, an `error_code`, a wait's `until`, an invariants check; a restart always asserts its
success unless told otherwise). An error code is proven by a step that expects exactly that code
(`error_code: X`, or `expect: {error_code: X}`, also on a nested `....error_code` field): a
`one_of` that also accepts another code, or null, proves nothing. The scenario's own `covers`
may claim only what its steps prove, and a step's `covers` only what the scenario claims.
"""

from __future__ import annotations

from collections.abc import Iterator

from chaos.scenario.model import (
    InvariantsStep,
    Operators,
    ParallelStep,
    RestartStep,
    ResultStep,
    Scenario,
    Step,
    WaitStep,
)
from chaos.scenario.source import Loc, Problem, Source


def steps_of(scenario: Scenario) -> Iterator[tuple[Step, Loc]]:
    """Every step with its location, those inside parallel branches included."""
    for section, steps in (("steps", scenario.steps), ("finally", scenario.finally_)):
        yield from _walk(steps, (section,))


def _walk(steps: list[Step], loc: Loc) -> Iterator[tuple[Step, Loc]]:
    for index, step in enumerate(steps):
        yield step, (*loc, index)
        if isinstance(step, ParallelStep):
            for branch, inner in step.parallel.items():
                yield from _walk(inner, (*loc, index, "parallel", branch))


def asserts(step: Step) -> bool:
    if isinstance(step, RestartStep | WaitStep | InvariantsStep):
        return True
    return isinstance(step, ResultStep) and bool(step.expect or step.error_code)


def expected_codes(step: Step) -> set[str]:
    """The error codes this step expects exactly."""
    if not isinstance(step, ResultStep):
        return set()
    codes = {step.error_code} if step.error_code else set()
    for path, matcher in step.expect.items():
        if path == "error_code" or path.endswith(".error_code"):
            exact = matcher.equals if isinstance(matcher, Operators) and matcher.model_fields_set == {"equals"} else matcher
            if isinstance(exact, str):
                codes.add(exact)
    return codes


def proves(step: Step) -> list[str]:
    """The guide ids and error codes this step proves when it passes."""
    guide_ids = list(step.covers) if asserts(step) else []
    return [*guide_ids, *sorted(expected_codes(step))]


def proven(scenario: Scenario) -> list[str]:
    """Everything the scenario's steps prove, each id once, in the order first proven."""
    return list(dict.fromkeys(item for step, _ in steps_of(scenario) for item in proves(step)))


def problems(source: Source, scenario: Scenario) -> list[Problem]:
    """Where the scenario's claims and its assertions disagree."""
    found = []
    claimed = {*scenario.covers.guide, *scenario.covers.error_codes}
    for step, loc in steps_of(scenario):
        if step.covers and not asserts(step):
            found.append(source.problem((*loc, "covers"), "this step asserts nothing, so it proves nothing: give it expect or error_code, or tag the step that checks the outcome"))
        for item in step.covers:
            if item not in claimed:
                found.append(source.problem((*loc, "covers"), f"this step proves {item}: add it to the scenario's covers.guide"))
    proved = set(proven(scenario))
    for key, ids in (("guide", scenario.covers.guide), ("error_codes", scenario.covers.error_codes)):
        for index, item in enumerate(ids):
            if item not in proved:
                how = f"tag the step that asserts it with covers: [{item}]" if key == "guide" else f"expect it exactly (error_code: {item})"
                found.append(source.problem(("covers", key, index), f"covers {item}, but no step asserts it: {how}"))
    return found

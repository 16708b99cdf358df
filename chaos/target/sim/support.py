"""Which scenarios sim mode can run, and why not the others.

A scenario runs in sim mode unless it needs something only real processes have: environment
variables of the server process, a fault whose mechanism the simulator does not model (each fault
says so itself: `Fault.sim_blocker`), or something its own `not_in_sim` names (a runbook that
talks to the server over HTTP, or looks at its processes). A scenario it cannot run is reported as skipped with those reasons, never
run half-way.
"""

from __future__ import annotations

from chaos.faults import FAULTS
from chaos.scenario import Scenario
from chaos.scenario.model import InjectStep, StartStep, walk_steps


def sim_blockers(scenario: Scenario) -> list[str]:
    """Why this scenario cannot run in sim mode (empty: it can)."""
    reasons = [f"the scenario says: {scenario.not_in_sim}"] if scenario.not_in_sim else []
    for loc, step in walk_steps(scenario.steps, "steps") + walk_steps(scenario.finally_, "finally"):
        if isinstance(step, StartStep) and step.start is not None and step.start.env:
            reasons.append(f"{loc} sets environment variables of the server process: the simulator runs no process")
        elif isinstance(step, InjectStep):
            blocker = FAULTS[step.inject].sim_blocker(step.params)
            if blocker:
                reasons.append(f"{loc} injects {step.inject}: {blocker}")
    return reasons

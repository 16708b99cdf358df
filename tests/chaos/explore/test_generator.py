"""The generator only makes valid scenarios that sim mode can run, and every story ends in recovery."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings

from chaos.explore.compile import CHECK, ENDING, PRECONDITION, compile_schedule
from chaos.explore.schedule import (
    FaultPlan,
    Inject,
    InjectFault,
    Intrusion,
    KillWorker,
    Now,
    Overlap,
    RestartArgs,
    Schedule,
    SecondRestart,
    StartPlan,
)
from chaos.explore.strategies import schedules
from chaos.explore.yaml_text import SCHEMA_LINE, scenario_yaml
from chaos.scenario import load_scenario
from chaos.scenario.model import ParallelStep
from chaos.target.sim.support import sim_blockers


def _all_steps(steps: list) -> list:
    found = []
    for step in steps:
        found.append(step)
        if isinstance(step, ParallelStep):
            for inner in step.parallel.values():
                found += _all_steps(inner)
    return found


# Drawing and validating a schedule takes milliseconds, more on a busy machine: no timing health checks.
GENERATED = settings(max_examples=200, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])


@GENERATED
@given(schedules(max_moves=8))
def test_every_schedule_is_a_valid_scenario_sim_mode_runs(schedule: Schedule) -> None:
    compiled = compile_schedule(schedule)
    text = scenario_yaml(compiled.document("explored", "generated"))
    assert text.startswith(SCHEMA_LINE)
    loaded = load_scenario(Path("explored.yaml"), text)
    assert loaded.ok, loaded.problems
    scenario = loaded.scenario
    assert scenario is not None
    assert sim_blockers(scenario) == []
    assert set(compiled.roles.values()) <= {CHECK, ENDING, PRECONDITION}
    assert len(compiled.roles) == len(_all_steps(scenario.steps))  # every step has a role
    final_emergency, final_graceful = scenario.steps[-2:]
    assert final_emergency.restart.graceful is False and not final_emergency.expect
    assert final_graceful.restart.model_dump(exclude_none=True) == {} and not final_graceful.expect


@GENERATED
@given(schedules(max_moves=8))
def test_restarts_expect_success_or_the_codes_they_are_named_after(schedule: Schedule) -> None:
    for step in _all_steps(load_scenario(Path("x.yaml"), scenario_yaml(compile_schedule(schedule).document("x", "x"))).scenario.steps):
        if step.name and step.name.startswith("restart, success"):
            named = sorted(part.split(" ")[0] for part in step.name.split(" or ")[1:])
            allowed = step.expect["error_code"].one_of[1:] if step.expect else []
            assert named == sorted(allowed)


def test_a_restart_with_every_cause_at_once_still_makes_a_valid_step() -> None:
    frozen = FaultPlan("hung_task", {"how": "sigstop"})
    schedule = Schedule(
        StartPlan(unsuspendable_jobs=1),
        (
            KillWorker(verify_recovery=False),
            Inject(FaultPlan("permission_denied")),
            Inject(FaultPlan("replacement_fails", {"mode": "never_healthy"})),
            Inject(FaultPlan("hung_task", {"ignore_suspend_s": 20})),
            Overlap(RestartArgs(), (Intrusion(Now(), SecondRestart(RestartArgs())), Intrusion(Now(), InjectFault(frozen)))),
        ),
        seed=0,
    )
    compiled = compile_schedule(schedule)
    assert load_scenario(Path("x.yaml"), scenario_yaml(compiled.document("x", "x"))).ok
    assert compiled.error_codes == ["RESTART_002", "RESTART_003", "RESTART_004", "RESTART_005", "RESTART_006"]

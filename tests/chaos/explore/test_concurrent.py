"""The soak's moves in exploration: the first worker killed while it starts, and concurrent clients
whose every answer is judged (the moves that would have found the first-worker `unknown tool` bug)."""

from __future__ import annotations

import copy
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import find, settings

from chaos.cli import main
from chaos.explore.compile import PRECONDITION, compile_schedule
from chaos.explore.judge import CONCURRENT, judge
from chaos.explore.run import ScheduleRun, run_schedule
from chaos.explore.schedule import KillStarting, Schedule, StartPlan
from chaos.explore.strategies import schedules
from chaos.explore.yaml_text import scenario_yaml

UNKNOWN_TOOL = {"success": False, "error": "unknown tool 'orchestrator_plan_task'; known tools: orchestrator_restart_server"}


def _kills_while_starting(schedule: Schedule) -> bool:
    return schedule.clients > 0 and any(isinstance(move, KillStarting) for move in schedule.moves)


def test_the_strategy_draws_a_kill_while_starting_with_concurrent_clients() -> None:
    found = find(schedules(6), _kills_while_starting, settings=settings(database=None, max_examples=500))
    steps = compile_schedule(found).steps  # find raises if no drawn schedule has both
    assert {"inject": "worker_crash", "params": {"which": "starting"}} in [{k: step.get(k) for k in ("inject", "params")} for step in steps]
    assert any(step.get("load", {}).get("clients") == found.clients for step in steps)


@pytest.fixture(scope="module")
def clean_run(tmp_path_factory: pytest.TempPathFactory) -> ScheduleRun:
    schedule = Schedule(StartPlan(tasks=1), (KillStarting(verify_recovery=False),), seed=3, clients=2)
    return run_schedule(schedule, tmp_path_factory.mktemp("explore"))


def test_its_scenario_validates_and_runs_in_sim_mode_with_every_concurrent_call_answered(clean_run: ScheduleRun, tmp_path: Path) -> None:
    path = tmp_path / "explored.yaml"
    path.write_text(scenario_yaml(clean_run.compiled.document("explored", "a kill while starting, two clients")))
    assert main(["validate", str(path)]) == 0

    steps = {step["loc"]: step for step in clean_run.result.journal["steps"]}
    kill = next(loc for loc, role in clean_run.compiled.roles.items() if role == PRECONDITION)
    assert steps[kill]["kind"] == "inject" and steps[kill]["outcome"] == "passed"  # it found a worker starting
    assert steps[kill]["result"]["details"]["which"] == "starting"
    calls = [call for call in clean_run.result.journal["calls"] if call["client"].startswith(CONCURRENT)]
    assert {call["client"] for call in calls} == {"load:clients_2/0", "load:clients_2/1"}  # the first load was stopped at once
    assert all(call["outcome"] == "ok" for call in calls)
    assert clean_run.verdict.outcome == "passed", clean_run.verdict.report


def _answered(run: ScheduleRun, response: dict[str, object]) -> dict[str, object]:
    """The run's journal, its concurrent calls after the kill answered `response` instead."""
    journal = copy.deepcopy(run.result.journal)
    for call in journal["calls"]:
        if call["client"].startswith("load:clients_2/"):
            call.update(outcome="fail", response=response)
    return journal


def test_unknown_tool_answers_to_concurrent_clients_fail_the_verdict(clean_run: ScheduleRun) -> None:
    compiled = clean_run.compiled
    broken = replace(clean_run.result, journal=_answered(clean_run, UNKNOWN_TOOL))
    verdict = judge(broken, compiled.roles, compiled.windows)
    assert verdict.found and verdict.signature == "a concurrent call: unknown tool"


def test_a_code_is_allowed_to_a_concurrent_call_only_while_its_cause_is_present(clean_run: ScheduleRun) -> None:
    compiled = clean_run.compiled
    killed = replace(clean_run.result, journal=_answered(clean_run, {"success": False, "error_code": "RESTART_006", "error": "x"}))
    assert not judge(killed, compiled.roles, compiled.windows).found  # a worker killed: waiting for it may end so
    quiet = {loc: [] for loc in compiled.windows}
    assert judge(killed, compiled.roles, quiet).signature == "a concurrent call: code not allowed"
    unanswered = copy.deepcopy(clean_run.result.journal)
    for call in unanswered["calls"]:
        call.update(outcome="indeterminate", completed_s=None, response=None)
    assert judge(replace(clean_run.result, journal=unanswered), compiled.roles, compiled.windows).found


def test_the_compiled_story_restarts_its_clients_around_a_stop() -> None:
    steps = compile_schedule(Schedule(StartPlan(), (KillStarting(verify_recovery=True),), seed=0, clients=3)).steps
    kinds = [next(iter(step)) if "name" not in step else next(key for key in step if key != "name") for step in steps]
    assert kinds[:7] == ["start", "load", "stop_load", "stop", "start", "inject", "wait"]
    assert kinds[7] == "load" and steps[4]["start"] == {"clients": 1, "wait_ready": False}

"""The checker's rules, each on a hand-made history and database where exactly that rule is broken."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from chaos.soak.checker import Applied, Window, check, latency, read_database
from chaos.verdict.checks import CallRecord

TITLE = "soak-c0-1"


def record(id: int, tool: str, outcome: str, arguments: dict, response: dict | None = None, at: float = 10.0) -> CallRecord:
    return CallRecord(id, "soak-c0", tool, arguments, "workload", at, at + 0.5, outcome, response)


def plan(id: int, outcome: str, title: str = TITLE, key: str = "k1", response: dict | None = None, at: float = 10.0) -> CallRecord:
    return record(id, "orchestrator_plan_task", outcome, {"title": title, "idempotency_key": key}, response or {"parent_task": {}}, at)


def failure(code: str | None, error: str = "refused") -> dict:
    return {"success": False, "error": error, **({"error_code": code} if code else {})}


def applied(titles: list[str] = (), keys: dict | None = None, sessions: list[str] = ()) -> Applied:
    found = Applied(keys=dict(keys or {}))
    found.titles.update(titles)
    found.sessions.update(sessions)
    return found


RESTART = Window("#0 kill_serving", opened=9.0, closed=12.0, codes=("RESTART_006",))


def test_a_clean_history_passes_with_every_count_zero():
    verdict = check([plan(1, "ok")], applied([TITLE], {"k1": "orchestrator_plan_task"}), [])
    assert verdict.passed and verdict.calls == verdict.acked == 1 and verdict.availability == 1.0
    assert set(verdict.counts.values()) == {0}


def test_an_acknowledged_task_missing_from_the_database_is_lost():
    verdict = check([plan(1, "ok")], applied(), [])
    assert verdict.counts["lost"] == 1 and not verdict.passed


def test_an_acknowledged_update_whose_key_is_absent_is_lost():
    update = record(1, "orchestrator_update_task", "ok", {"task_id": "t", "priority": 1, "idempotency_key": "k9"})
    assert check([update], applied(), []).counts["lost"] == 1
    assert check([update], applied(keys={"k9": "orchestrator_update_task"}), []).counts["lost"] == 0


def test_one_call_applied_twice_is_doubled():
    verdict = check([plan(1, "ok")], applied([TITLE, TITLE], {"k1": "orchestrator_plan_task"}), [])
    assert verdict.counts["doubled"] == 1 and not verdict.passed


def test_a_session_opened_twice_by_one_call_is_doubled():
    session = record(1, "orchestrator_initialize_session", "ok", {"client_name": "soak-c0-s1", "idempotency_key": "k1"})
    assert check([session], applied(sessions=["soak-c0-s1"] * 2), []).counts["doubled"] == 1


def test_a_call_answered_as_failed_yet_applied_is_a_phantom():
    failed = plan(1, "fail", response=failure("RESTART_006"))
    verdict = check([failed], applied([TITLE], {"k1": "orchestrator_plan_task"}), [RESTART])
    assert verdict.counts["phantom"] == 1 and verdict.counts["code_not_allowed"] == 0


def test_an_indeterminate_call_may_or_may_not_be_applied():
    unanswered = plan(1, "indeterminate", response=None)
    for database in (applied(), applied([TITLE], {"k1": "orchestrator_plan_task"})):
        assert check([unanswered], database, [], max_failed=1).passed


def test_unknown_tool_is_a_finding_whatever_the_moment():
    answer = {"success": False, "error": "unknown tool 'orchestrator_plan_task'; known tools: orchestrator_restart_server"}
    verdict = check([plan(1, "fail", response=answer)], applied(), [RESTART], max_failed=1)
    assert verdict.counts["unknown_tool"] == 1 and not verdict.passed


def test_a_failure_without_a_documented_code_is_a_finding():
    verdict = check([plan(1, "fail", response=failure(None, "database is locked"))], applied(), [RESTART], max_failed=1)
    assert verdict.counts["undocumented_code"] == 1
    made_up = check([plan(1, "fail", response=failure("RESTART_042"))], applied(), [RESTART], max_failed=1)
    assert made_up.counts["undocumented_code"] == 1


def test_a_documented_code_counts_only_while_an_event_allowing_it_runs():
    during = plan(1, "fail", response=failure("RESTART_006"), at=10.0)
    later = plan(2, "fail", key="k2", title="soak-c0-2", response=failure("RESTART_006"), at=20.0)
    other_code = plan(3, "fail", key="k3", title="soak-c0-3", response=failure("RESTART_007"), at=10.0)
    verdict = check([during, later, other_code], applied(), [RESTART], max_failed=1)
    assert verdict.counts["code_not_allowed"] == 2
    assert {finding.call for finding in verdict.findings if finding.rule == "code_not_allowed"} == {2, 3}


def test_more_failures_than_the_threshold_fail_the_run():
    calls = [plan(i, "ok", title=f"t{i}", key=f"k{i}") for i in range(1, 10)] + [plan(10, "fail", "t10", "k10", failure("RESTART_006"))]
    database = applied([f"t{i}" for i in range(1, 10)], {f"k{i}": "orchestrator_plan_task" for i in range(1, 10)})
    assert check(calls, database, [RESTART], max_failed=0.1).passed
    strict = check(calls, database, [RESTART], max_failed=0.05)
    assert strict.counts["failure_rate"] == 1 and strict.availability == pytest.approx(0.9)


def test_a_lookup_after_an_acknowledged_creation_must_find_it():
    created = plan(1, "ok", at=10.0)
    lookup = record(2, "orchestrator_query_tasks", "ok", {"text": TITLE}, {"tasks": [], "total": 0}, at=11.0)
    database = applied([TITLE], {"k1": "orchestrator_plan_task"})
    assert check([created, lookup], database, []).counts["stale_read"] == 1
    concurrent = record(2, "orchestrator_query_tasks", "ok", {"text": TITLE}, {"tasks": [], "total": 0}, at=10.2)
    assert check([created, concurrent], database, []).counts["stale_read"] == 0


def test_latency_is_split_by_the_windows():
    inside, outside = plan(1, "ok", at=10.0), plan(2, "ok", key="k2", at=30.0)
    outside.completed_at = 30.1
    split = latency([inside, outside], [RESTART])
    assert split["inside_restart_windows"] == {"calls": 1, "p50": 0.5, "p99": 0.5}
    assert split["outside_restart_windows"] == {"calls": 1, "p50": 0.1, "p99": 0.1}


def test_the_database_is_read_as_the_orchestrator_wrote_it(tmp_path: Path):
    path = tmp_path / "task_orchestrator.db"
    connection = sqlite3.connect(path)
    connection.executescript(
        "CREATE TABLE idempotency (key TEXT, tool TEXT, result TEXT, created_at TEXT);"
        "CREATE TABLE tasks (id TEXT, parent_id TEXT, title TEXT);"
        "CREATE TABLE sessions (id TEXT, client_name TEXT);"
        "INSERT INTO idempotency VALUES ('k1', 'orchestrator_plan_task', '{}', '');"
        "INSERT INTO tasks VALUES ('p', NULL, 'soak-c0-1'), ('s', 'p', 'soak-c0-1 step 1');"
        "INSERT INTO sessions VALUES ('x', 'soak-c0-s1');"
    )
    connection.commit()
    connection.close()
    found = read_database(path)
    assert found.keys == {"k1": "orchestrator_plan_task"}
    assert found.titles == {"soak-c0-1": 1} and found.sessions == {"soak-c0-s1": 1}
    assert read_database(tmp_path / "absent.db") == Applied()


def test_a_story_is_built_again_from_the_same_events_as_shrinking_does():
    """Building a story takes the steps' roles off copies; the events stay whole, so each of
    shrinking's candidates (a subset of the same events) builds (a KeyError '_role' did not)."""
    from chaos.soak.nemesis import Planner, story

    events = Planner(seed=3, live=True, clients=2).events(40)
    assert any(any("parallel" in step for step in event.steps) for event in events)
    first = story(2, events, live=True)
    again = story(2, events[::2], live=True)
    assert first.roles and again.roles
    assert story(2, events, live=True).steps == first.steps


def test_once_the_orchestrator_may_have_pruned_keys_a_missing_key_is_no_evidence():
    from orchestrator.table_copy import IDEMPOTENCY_KEYS_KEPT

    update = record(1, "orchestrator_update_task", "ok", {"task_id": "t", "priority": 1, "idempotency_key": "old"})
    kept = {f"k{n}": "orchestrator_update_task" for n in range(IDEMPOTENCY_KEYS_KEPT)}
    assert check([update], applied(keys=kept), []).counts["lost"] == 0  # judged by the invariants instead
    assert check([plan(2, "ok")], applied(keys=kept), []).counts["lost"] == 1  # a creation still counts

"""Idempotency keys are bound to their call: a replay gets the first result, a reuse is refused."""

from __future__ import annotations

import sqlite3

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orchestrator import store as schema
from orchestrator.config import Paths
from orchestrator.store import IdempotencyConflictError, TaskStore, arguments_digest
from orchestrator.tasks import TaskService


@pytest.fixture
def store(tmp_path):
    s = TaskStore(Paths(tmp_path).database)
    yield s
    s.close()


def subtasks(*titles: str) -> list[dict]:
    return [{"title": t, "specialist_role": "implementer"} for t in titles]


def everything(store: TaskStore) -> dict[str, list]:
    return store.read(
        lambda conn: {
            table: [tuple(r) for r in conn.execute(f"SELECT * FROM {table} ORDER BY rowid")]
            for table in ("tasks", "idempotency")
        }
    )


def test_the_same_call_replayed_returns_the_first_result(store):
    service = TaskService(store)
    first = service.plan_task("A's task", "", subtasks("one"), idempotency_key="k")
    replay = service.plan_task("A's task", "", subtasks("one"), idempotency_key="k")
    assert replay == first
    assert len(everything(store)["tasks"]) == 2


def test_a_key_reused_with_other_arguments_is_refused_and_changes_nothing(store):
    service = TaskService(store)
    service.plan_task("A's task", "", subtasks("one"), idempotency_key="shared")
    before = everything(store)
    with pytest.raises(IdempotencyConflictError, match="other arguments.*Use a new key"):
        service.plan_task("B's task", "", subtasks("two"), idempotency_key="shared")
    assert everything(store) == before


def test_defaults_given_or_omitted_are_the_same_call(store):
    service = TaskService(store)
    task_id = service.plan_task("t", "", subtasks("one"))["subtasks"][0]["id"]
    first = service.cancel_task(task_id, idempotency_key="c")
    assert service.cancel_task(task_id, reason=None, idempotency_key="c") == first


def test_another_tool_is_still_refused(store):
    store.run_idempotent("k", "tool_a", lambda conn: {}, {"x": 1})
    with pytest.raises(IdempotencyConflictError, match="already used for tool_a"):
        store.run_idempotent("k", "tool_b", lambda conn: {}, {"x": 1})


def test_a_database_from_before_digests_is_migrated_and_its_keys_still_replay(tmp_path):
    path = Paths(tmp_path).database
    path.parent.mkdir(parents=True)
    old = sqlite3.connect(path, isolation_level=None)
    for statement in schema.MIGRATIONS[0]:
        old.execute(statement)
    old.execute("PRAGMA user_version = 1")
    old.execute(
        "INSERT INTO idempotency (key, tool, result, created_at) VALUES ('old', 'tool', '{\"first\": 1}', 'then')"
    )
    old.close()
    store = TaskStore(path)
    try:
        assert store.schema_version == len(schema.MIGRATIONS)
        # No digest was recorded, so any arguments are accepted, as before.
        assert store.run_idempotent("old", "tool", lambda conn: {"second": 2}, {"any": "thing"}) == {"first": 1}
        store.run_idempotent("new", "tool", lambda conn: {}, {"x": 1})
        with pytest.raises(IdempotencyConflictError):
            store.run_idempotent("new", "tool", lambda conn: {}, {"x": 2})
    finally:
        store.close()


@given(st.dictionaries(st.text(max_size=5), st.integers() | st.text(max_size=5), max_size=6))
def test_the_digest_ignores_key_order(arguments):
    reordered = dict(reversed(list(arguments.items())))
    assert arguments_digest(reordered) == arguments_digest(arguments)

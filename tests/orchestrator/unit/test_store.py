"""TaskStore: schema, durability settings, idempotent writes, locks held by other processes, damage."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import textwrap

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orchestrator import rows as db
from orchestrator import store as schema
from orchestrator.config import Paths
from orchestrator.store import IdempotencyConflictError, StoreBusyError, StoreError, TaskStore

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4),
    max_leaves=12,
)


@pytest.fixture
def store(tmp_path):
    s = TaskStore(Paths(tmp_path).database)
    yield s
    s.close()


def add_task(store: TaskStore, title: str = "t", **fields) -> dict:
    return store.write(lambda conn: db.insert_task(conn, title=title, status="pending", **fields))


def count(store: TaskStore, table: str) -> int:
    return store.read(lambda conn: conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])


def test_open_applies_schema_with_durable_settings(store):
    assert store.schema_version == len(schema.MIGRATIONS)
    pragmas = store.read(
        lambda conn: {
            name: conn.execute(f"PRAGMA {name}").fetchone()[0]
            for name in ("journal_mode", "synchronous", "foreign_keys")
        }
    )
    assert pragmas == {"journal_mode": "wal", "synchronous": 2, "foreign_keys": 1}  # 2 == FULL


def test_reopen_keeps_data_and_does_not_reapply_migrations(tmp_path):
    path = Paths(tmp_path).database
    first = TaskStore(path)
    task = add_task(first, "survives")
    first.close()
    again = TaskStore(path)  # re-running CREATE TABLE would raise here
    try:
        assert again.schema_version == len(schema.MIGRATIONS)
        assert again.read(lambda conn: db.get_task(conn, task["id"]))["title"] == "survives"
    finally:
        again.close()


def test_failed_migration_applies_nothing(tmp_path, monkeypatch):
    path = Paths(tmp_path).database
    TaskStore(path).close()
    broken = (*schema.MIGRATIONS, ("CREATE TABLE extra (x)", "THIS IS NOT SQL"))
    monkeypatch.setattr(schema, "MIGRATIONS", broken)
    with pytest.raises(StoreError):
        TaskStore(path)
    monkeypatch.undo()
    reopened = TaskStore(path)
    try:
        assert reopened.schema_version == len(schema.MIGRATIONS)
        tables = reopened.read(lambda conn: [r[0] for r in conn.execute("SELECT name FROM sqlite_master")])
        assert "extra" not in tables
    finally:
        reopened.close()


def test_run_idempotent_applies_once_and_replays_the_result(store):
    calls = []

    def create(conn: sqlite3.Connection) -> dict:
        calls.append(1)
        return {"id": db.insert_task(conn, title="once", status="pending")["id"]}

    first = store.run_idempotent("key-1", "tool", create)
    replay = store.run_idempotent("key-1", "tool", create)
    assert replay == first
    assert len(calls) == 1
    assert count(store, "tasks") == 1


def test_run_idempotent_without_key_applies_every_time(store):
    for _ in range(3):
        store.run_idempotent(
            None, "tool", lambda conn: {"id": db.insert_task(conn, title="x", status="pending")["id"]}
        )
    assert count(store, "tasks") == 3
    assert count(store, "idempotency") == 0


def test_run_idempotent_records_nothing_when_fn_fails(store):
    def fail(conn: sqlite3.Connection) -> dict:
        db.insert_task(conn, title="rolled back", status="pending")
        raise ValueError("refused")

    with pytest.raises(ValueError):
        store.run_idempotent("key", "tool", fail)
    assert count(store, "tasks") == 0
    assert store.run_idempotent("key", "tool", lambda conn: {"second": True}) == {"second": True}


def test_run_idempotent_refuses_a_key_reused_by_another_tool(store):
    store.run_idempotent("shared", "tool_a", lambda conn: {})
    with pytest.raises(IdempotencyConflictError, match="tool_a"):
        store.run_idempotent("shared", "tool_b", lambda conn: {})


@pytest.fixture
def recorded() -> dict:
    return {}


@settings(max_examples=50, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(key=st.text(min_size=1, max_size=50), result=st.dictionaries(st.text(), json_values, max_size=5))
def test_replayed_result_equals_the_first(store, recorded, key, result):
    # The store outlives examples, so a key hypothesis repeats must replay its first result.
    expected = recorded.setdefault(key, json.loads(json.dumps(result)))
    assert store.run_idempotent(key, "tool", lambda conn: result) == expected
    assert store.run_idempotent(key, "tool", lambda conn: {"other": 1}) == expected


def test_transactions_in_progress_counts_open_transactions(store):
    seen = store.write(lambda conn: store.transactions_in_progress)
    assert seen == 1
    assert store.transactions_in_progress == 0


def test_database_facts_are_measured(store):
    add_task(store)
    facts = store.database_facts()
    assert facts["path"] == str(store.path)
    assert facts["size_bytes"] == store.path.stat().st_size > 0
    assert facts["wal_size_bytes"] > 0  # the insert is in the WAL until a checkpoint
    assert facts["journal_mode"] == "wal"
    assert facts["schema_version"] == len(schema.MIGRATIONS)
    assert facts["task_counts"]["pending"] == 1
    assert facts["busy_timeout_s"] == 5.0


def test_checkpoint_wal_empties_the_wal(store):
    add_task(store)
    busy, _, _ = store.checkpoint_wal()
    assert busy == 0
    assert store.database_facts()["wal_size_bytes"] == 0


LOCK_HOLDER = textwrap.dedent(
    """
    import sqlite3, sys
    conn = sqlite3.connect(sys.argv[1], isolation_level=None)
    conn.execute("BEGIN EXCLUSIVE")
    print("locked", flush=True)
    sys.stdin.readline()
    conn.execute("ROLLBACK")
    """
)


def test_write_lock_held_by_another_process(tmp_path):
    store = TaskStore(Paths(tmp_path).database, busy_timeout_s=0.1)
    holder = subprocess.Popen(
        [sys.executable, "-c", LOCK_HOLDER, str(store.path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        assert store.write_lock_held_elsewhere() is True
        with pytest.raises(StoreBusyError, match="locked"):
            add_task(store)
        assert store.transactions_in_progress == 0
        holder.stdin.write("\n")
        holder.stdin.flush()
        assert holder.wait(timeout=10) == 0
        assert store.write_lock_held_elsewhere() is False
        add_task(store)
        assert count(store, "tasks") == 1
    finally:
        holder.kill()
        holder.wait()
        store.close()


def test_own_transaction_is_not_a_lock_held_elsewhere(store):
    assert store.write_lock_held_elsewhere() is False


def test_integrity_check_passes_on_a_healthy_database(store):
    add_task(store)
    assert store.integrity_check() == (True, ["ok"])


def test_integrity_check_detects_damaged_pages(tmp_path):
    path = Paths(tmp_path).database
    healthy = TaskStore(path)
    healthy.write(
        lambda conn: [
            db.insert_task(conn, title=f"t{i}", status="pending", description="x" * 2000) for i in range(100)
        ]
    )
    healthy.close()  # the last connection closing folds the WAL into the file
    page_size = 4096
    data = bytearray(path.read_bytes())
    pages = len(data) // page_size
    assert pages > 10
    for page in range(2, pages, 3):  # page 1 (header and schema) stays intact so the file still opens
        start = page * page_size
        data[start : start + 64] = b"\xa5" * 64
    path.write_bytes(bytes(data))
    damaged = TaskStore(path)
    try:
        ok, messages = damaged.integrity_check()
        assert ok is False
        assert messages and messages != ["ok"]
    finally:
        damaged.close()


def test_a_file_that_is_not_a_database_is_a_store_error(tmp_path):
    path = Paths(tmp_path).database
    path.parent.mkdir(parents=True)
    path.write_bytes(b"this is not sqlite" * 512)
    with pytest.raises(StoreError, match=str(path)):
        TaskStore(path)


def test_find_tasks_escapes_like_wildcards(store):
    add_task(store, "100% done")
    add_task(store, "1000 done")
    tasks, total = store.read(lambda conn: db.find_tasks(conn, text="0%"))
    assert total == 1
    assert tasks[0]["title"] == "100% done"


def test_deleting_a_parent_removes_subtasks_and_jobs(store):
    parent = add_task(store, "parent")
    child = add_task(store, "child", parent_id=parent["id"])
    store.write(
        lambda conn: db.save_job(
            conn, child["id"], kind="builtin", params={"kind": "builtin"}, ignore_suspend=False
        )
    )
    store.write(lambda conn: db.delete_task(conn, parent["id"]))
    assert count(store, "tasks") == 0
    assert count(store, "jobs") == 0

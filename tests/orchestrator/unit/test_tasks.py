"""TaskService: the task lifecycle, its state rules, and refusals that change nothing."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orchestrator import rows as db
from orchestrator.config import ALLOW_COMMAND_JOBS_ENV, Paths
from orchestrator.roles import ROLES
from orchestrator.store import TaskStore
from orchestrator.tasks import (
    MAX_SUMMARY,
    MAX_TITLE,
    TaskInputError,
    TaskNotFoundError,
    TaskService,
    TaskStateError,
)

fixture_reused = settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.delenv(ALLOW_COMMAND_JOBS_ENV, raising=False)
    s = TaskStore(Paths(tmp_path).database)
    yield s
    s.close()


@pytest.fixture
def service(store):
    return TaskService(store)


def subtask(title: str = "step", role: str = "implementer", **extra) -> dict:
    return {"title": title, "description": f"do {title}", "specialist_role": role, **extra}


def plan(service: TaskService, n: int = 3, **kwargs) -> dict:
    roles = ["architect", "implementer", "tester"]
    return service.plan_task(
        "Build it", "the whole thing", [subtask(f"s{i}", roles[i % 3]) for i in range(n)], **kwargs
    )


def rows(store: TaskStore) -> dict[str, list]:
    """Every row of every table, to prove a refused call changed nothing."""
    return store.read(
        lambda conn: {
            table: [tuple(r) for r in conn.execute(f"SELECT * FROM {table} ORDER BY rowid")]
            for table in ("tasks", "jobs", "idempotency", "sessions")
        }
    )


def status_of(store: TaskStore, task_id: str) -> str:
    return store.read(lambda conn: db.get_task(conn, task_id))["status"]


def test_full_lifecycle(service, store):
    session = service.initialize_session("test-client", "/work")
    assert len(session["session_id"]) == 32
    assert {r["name"] for r in session["roles"]} >= {"architect", "tester", "debugger"}

    planned = plan(service)
    parent_id = planned["parent_task"]["id"]
    ids = [s["id"] for s in planned["subtasks"]]
    assert [s["status"] for s in planned["subtasks"]] == ["pending"] * 3
    assert all(s["parent_id"] == parent_id for s in planned["subtasks"])

    executed = service.execute_subtask(ids[0])
    assert executed["status"] == "in_progress"
    assert executed["specialist"]["name"] == "architect"
    assert "s0" in executed["instructions"] and ids[0] in executed["instructions"]
    assert "Subtask 1 of 3" in executed["context"]
    assert executed["job"] is None
    assert status_of(store, parent_id) == "in_progress"

    done = service.complete_subtask(ids[0], "designed", ["design.md", {"decision": "sqlite"}])
    assert done["subtasks_completed"] == 1 and done["subtasks_total"] == 3
    assert done["next_subtask_id"] == ids[1]

    for i, task_id in enumerate(ids[1:], start=1):
        service.execute_subtask(task_id)
        service.complete_subtask(task_id, f"summary {i}", [f"file{i}.py"])

    synthesized = service.synthesize_results(parent_id)
    assert synthesized["complete"] is True and synthesized["status"] == "completed"
    assert synthesized["result"]["artifacts"] == ["design.md", {"decision": "sqlite"}, "file1.py", "file2.py"]
    assert "designed" in synthesized["result"]["summary"] and "summary 2" in synthesized["result"]["summary"]
    assert status_of(store, parent_id) == "completed"

    status = service.get_status()
    assert status["counts"]["completed"] == 4 and status["total"] == 4


def test_synthesize_before_all_done_lists_the_remaining(service, store):
    planned = plan(service)
    parent_id, ids = planned["parent_task"]["id"], [s["id"] for s in planned["subtasks"]]
    service.complete_subtask(ids[0], "one done")
    partial = service.synthesize_results(parent_id)
    assert partial["complete"] is False
    assert partial["result"]["remaining_subtask_ids"] == ids[1:]
    assert status_of(store, parent_id) == "pending"


def test_replayed_key_applies_once(service, store):
    first = plan(service, idempotency_key="plan-1")
    replay = plan(service, idempotency_key="plan-1")
    assert replay == first
    assert store.read(lambda conn: db.count_tasks_by_status(conn))["pending"] == 4


def test_unknown_task_is_a_clear_error(service):
    with pytest.raises(TaskNotFoundError, match="no task with id 0{32}"):
        service.execute_subtask("0" * 32)


def test_status_rules_are_enforced(service, store):
    task_id = plan(service, 1)["subtasks"][0]["id"]
    service.cancel_task(task_id, "not needed")
    before = rows(store)
    with pytest.raises(TaskStateError, match="cancelled and cannot become completed"):
        service.complete_subtask(task_id, "too late")
    with pytest.raises(TaskStateError):
        service.execute_subtask(task_id)
    with pytest.raises(TaskStateError):
        service.update_task(task_id, status="pending")
    assert rows(store) == before


def test_parent_task_cannot_be_executed(service):
    parent_id = plan(service, 1)["parent_task"]["id"]
    with pytest.raises(TaskStateError, match="no specialist role"):
        service.execute_subtask(parent_id)


def test_cancel_cascades_to_unfinished_subtasks(service, store):
    planned = plan(service)
    parent_id, ids = planned["parent_task"]["id"], [s["id"] for s in planned["subtasks"]]
    service.complete_subtask(ids[0], "kept")
    result = service.cancel_task(parent_id, "changed plans")
    assert set(result["cancelled_task_ids"]) == {parent_id, ids[1], ids[2]}
    assert [status_of(store, i) for i in ids] == ["completed", "cancelled", "cancelled"]


def test_update_task_changes_only_what_is_given(service, store):
    task_id = plan(service, 1)["subtasks"][0]["id"]
    updated = service.update_task(task_id, title="renamed", priority=9)
    assert updated["changed"] == ["priority", "title"]
    assert updated["task"]["title"] == "renamed" and updated["task"]["priority"] == 9
    assert updated["task"]["description"] == "do s0"
    with pytest.raises(TaskInputError, match="nothing to update"):
        service.update_task(task_id)


def test_archive_hides_and_hard_delete_removes(service, store):
    first, second = plan(service, 2), plan(service, 1)
    archived = service.delete_task(first["parent_task"]["id"])
    assert archived["action"] == "archived" and len(archived["affected_task_ids"]) == 3
    assert service.query_tasks()["total"] == 2
    assert service.query_tasks(include_archived=True)["total"] == 5
    assert service.query_tasks(status="archived")["total"] == 3
    deleted = service.delete_task(second["parent_task"]["id"], archive=False)
    assert deleted["action"] == "deleted"
    assert service.query_tasks(include_archived=True)["total"] == 3


def test_delete_refuses_work_in_progress_unless_forced(service, store):
    planned = plan(service, 2)
    service.execute_subtask(planned["subtasks"][1]["id"])
    parent_id = planned["parent_task"]["id"]
    before = rows(store)
    with pytest.raises(TaskStateError, match="in progress"):
        service.delete_task(parent_id)
    assert rows(store) == before
    assert service.delete_task(parent_id, force=True)["action"] == "archived"


def test_query_pages_through_everything_once(service):
    for _ in range(7):
        plan(service, 2)  # 21 tasks
    seen, offset = [], 0
    while True:
        page = service.query_tasks(limit=5, offset=offset)
        assert page["total"] == 21 and page["limit"] == 5 and page["offset"] == offset
        seen += [t["id"] for t in page["tasks"]]
        if not page["has_more"]:
            break
        offset += 5
    assert len(seen) == 21 == len(set(seen))
    assert "instructions" not in page["tasks"][0]


def test_query_filters(service):
    planned = plan(service)
    plan(service, 1)
    parent_id = planned["parent_task"]["id"]
    assert service.query_tasks(parent_id=parent_id)["total"] == 3
    assert service.query_tasks(specialist_role="tester")["total"] == 1
    assert {t["title"] for t in service.query_tasks(text="s0")["tasks"]} == {"s0"}
    assert service.query_tasks(status="completed")["total"] == 0


def test_subtask_job_is_persisted_on_execute(service, store):
    job = {"kind": "builtin", "duration_s": 5}
    task_id = service.plan_task("t", "", [subtask(job=job)])["subtasks"][0]["id"]
    assert store.read(lambda conn: db.get_job(conn, task_id)) is None
    executed = service.execute_subtask(task_id)
    assert executed["job"]["status"] == "running" and executed["job"]["progress"] == 0.0
    assert executed["job"]["params"]["duration_s"] == 5.0
    with pytest.raises(TaskStateError, match="background job"):
        service.complete_subtask(task_id, "by hand")
    with pytest.raises(TaskStateError, match="background job"):
        service.start_job(task_id, job)


def test_interrupted_job_continues_from_its_progress_when_executed_again(service, store):
    task_id = service.plan_task("t", "", [subtask(job={"kind": "builtin", "duration_s": 5})])["subtasks"][0][
        "id"
    ]
    service.execute_subtask(task_id)
    store.write(lambda conn: db.update_job(conn, task_id, status="interrupted", progress=0.4))
    store.write(lambda conn: db.update_task(conn, task_id, status="interrupted"))
    again = service.execute_subtask(task_id)
    assert again["job"]["status"] == "running" and again["job"]["progress"] == 0.4


def test_start_job_attaches_work_to_a_task(service, store):
    task_id = plan(service, 1)["subtasks"][0]["id"]
    started = service.start_job(task_id, {"kind": "builtin", "duration_s": 1, "ignore_suspend": True})
    assert started["status"] == "in_progress"
    assert started["job"]["ignore_suspend"] is True
    assert status_of(store, task_id) == "in_progress"


# -- refusals change nothing ---------------------------------------------------------------


def bad_text(max_len: int) -> st.SearchStrategy:
    too_long = st.integers(1, 50).map(lambda extra: "x" * (max_len + extra))
    return st.one_of(st.none(), st.integers(), st.just(""), st.just("   "), too_long)


bad_job = st.one_of(
    st.just({"kind": "builtin"}),
    st.just({"kind": "builtin", "duration_s": 0}),
    st.just({"kind": "builtin", "duration_s": float("nan")}),
    st.just({"kind": "builtin", "duration_s": True}),
    st.floats(min_value=3600.01, max_value=1e9).map(lambda d: {"kind": "builtin", "duration_s": d}),
    st.just({"kind": "builtin", "duration_s": 1, "checkpoint_interval_s": -1}),
    st.just({"kind": "builtin", "duration_s": 1, "surprise": 1}),
    st.just({"kind": "command", "argv": ["true"]}),  # command jobs are disabled by default
    st.just({"kind": "teleport"}),
    st.just("not an object"),
)
bad_subtask = st.one_of(
    bad_text(MAX_TITLE).map(lambda t: subtask(title=t)),
    st.text(max_size=20).filter(lambda r: r not in ROLES).map(lambda r: subtask(role=r)),
    st.just(subtask(complexity="enormous")),
    st.just(subtask(extra_key=1)),
    bad_job.map(lambda j: subtask(job=j)),
    st.integers(),
)
bad_plans = st.one_of(
    bad_text(MAX_TITLE).map(lambda t: {"title": t}),
    st.just({"description": 42}),
    st.just({"complexity": "huge"}),
    st.just({"subtasks": []}),
    st.just({"subtasks": "steps"}),
    st.just({"subtasks": [subtask()] * 51}),
    st.sampled_from(["", "   ", 5, "k" * 201]).map(lambda k: {"idempotency_key": k}),
    st.tuples(st.integers(0, 2), bad_subtask).map(
        lambda p: {"subtasks": [subtask() if i != p[0] else p[1] for i in range(3)]}
    ),
)


@fixture_reused
@given(overrides=bad_plans)
def test_bad_plan_changes_nothing(service, store, overrides):
    before = rows(store)
    args = {"title": "t", "description": "d", "subtasks": [subtask()], **overrides}
    with pytest.raises(TaskInputError):
        service.plan_task(**args)
    assert rows(store) == before


@pytest.fixture
def target_id(service):
    """One pending subtask that every refused call in a test aims at."""
    return plan(service, 1)["subtasks"][0]["id"]


bad_calls = st.one_of(
    st.sampled_from(["", "xyz", "0" * 31, "G" * 32, None, 7]).map(
        lambda i: ("execute_subtask", {"task_id": i})
    ),
    bad_text(MAX_SUMMARY).map(lambda s: ("complete_subtask", {"summary": s})),
    st.just(("complete_subtask", {"summary": "s", "artifacts": "a.txt"})),
    st.just(("complete_subtask", {"summary": "s", "artifacts": [3]})),
    st.just(("complete_subtask", {"summary": "s", "artifacts": [{"x": float("inf")}]})),
    st.just(("complete_subtask", {"summary": "s", "artifacts": ["a"] * 101})),
    st.just(("complete_subtask", {"summary": "s", "next_action": "dance"})),
    st.one_of(st.integers(max_value=-1), st.integers(min_value=11), st.just(True)).map(
        lambda p: ("update_task", {"priority": p})
    ),
    st.sampled_from(["archived", "interrupted", "done"]).map(lambda s: ("update_task", {"status": s})),
    st.just(("update_task", {"title": ""})),
    st.just(("delete_task", {"archive": "yes"})),
    st.just(("delete_task", {"force": 1})),
    st.just(("cancel_task", {"reason": 5})),
    st.just(("start_job", {"spec": {"kind": "builtin", "duration_s": -1}})),
    st.just(("synthesize_results", {})),  # a subtask has no subtasks of its own
)


@fixture_reused
@given(call=bad_calls)
def test_bad_calls_change_nothing(service, store, target_id, call):
    name, overrides = call
    task_key = "parent_id" if name == "synthesize_results" else "task_id"
    args = {task_key: target_id, **overrides}
    before = rows(store)
    with pytest.raises(TaskInputError):
        getattr(service, name)(**args)
    assert rows(store) == before


@fixture_reused
@given(
    query=st.one_of(
        st.one_of(st.integers(max_value=0), st.integers(min_value=501), st.just(True)).map(
            lambda n: {"limit": n}
        ),
        st.integers(max_value=-1).map(lambda n: {"offset": n}),
        st.text(max_size=12).filter(lambda s: s not in db.TASK_STATUSES).map(lambda s: {"status": s}),
        st.just({"specialist_role": "wizard"}),
        st.just({"parent_id": "nope"}),
        st.just({"include_archived": "no"}),
    )
)
def test_bad_queries_are_refused(service, query):
    with pytest.raises(TaskInputError):
        service.query_tasks(**query)

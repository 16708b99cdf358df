"""The invariants: nothing lost or twice from a call history, snapshot hash, SQLite integrity, leftovers."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from chaos.host.ownership import processes_under
from chaos.verdict import checks
from chaos.verdict.checks import History
from orchestrator import snapshot
from orchestrator.config import Paths


def plan_call(history: History, title: str, outcome: str, parent: str = "", subtasks: tuple[str, ...] = ()) -> None:
    record = history.invoke("c0", "orchestrator_plan_task", {"title": title, "description": "d"}, "steps[1]")
    if outcome == "indeterminate":
        History.unanswered(record, TimeoutError("no answer"))
    elif outcome == "fail":
        History.answered(record, {"is_error": True, "text": "refused"}, True)
    else:
        response = {"parent_task": {"id": parent}, "subtasks": [{"id": s} for s in subtasks]}
        History.answered(record, response, False)


def task(task_id: str, title: str = "", parent: str | None = None) -> dict[str, Any]:
    return {"id": task_id, "title": title, "description": "d", "parent_id": parent}


def test_acknowledged_tasks_present_once_pass() -> None:
    history = History()
    plan_call(history, "A", "ok", "p1", ("s1",))
    plan_call(history, "B", "indeterminate")
    plan_call(history, "C", "fail")
    tasks = [task("p1", "A"), task("s1", parent="p1"), task("p2", "B")]  # the indeterminate one happened
    verdict = checks.lost_or_twice(history, tasks)
    assert verdict.ok, verdict.detail
    assert history.counts() == {"ok": 1, "indeterminate": 1, "fail": 1}


def test_a_lost_acknowledged_task_is_caught() -> None:
    history = History()
    plan_call(history, "A", "ok", "p1", ("s1",))
    verdict = checks.lost_or_twice(history, [task("p1", "A")])
    assert verdict.ok is False and "lost: task s1 acknowledged by call #1" in verdict.detail


def test_a_request_applied_twice_is_caught() -> None:
    history = History()
    plan_call(history, "A", "ok", "p1")
    verdict = checks.lost_or_twice(history, [task("p1", "A"), task("p9", "A")])
    assert verdict.ok is False and "applied twice" in verdict.detail


def test_a_failed_call_that_was_applied_is_caught() -> None:
    history = History()
    plan_call(history, "C", "fail")
    verdict = checks.lost_or_twice(history, [task("p1", "C")])
    assert verdict.ok is False and "applied though the call failed" in verdict.detail


def test_permanently_deleted_tasks_are_not_lost() -> None:
    history = History()
    plan_call(history, "A", "ok", "p1", ("s1",))
    record = history.invoke("c0", "orchestrator_delete_task", {"task_id": "p1", "archive": False}, "steps[2]")
    History.answered(record, {"affected_task_ids": ["p1", "s1"]}, False)
    assert checks.lost_or_twice(history, []).ok


def change(history: History, tool: str, arguments: dict[str, Any], response: dict[str, Any] | None = None, outcome: str = "ok") -> None:
    record = history.invoke("c0", tool, arguments, "steps[3]")
    if outcome == "indeterminate":
        History.unanswered(record, TimeoutError("no answer"))
    else:
        History.answered(record, response or {}, outcome == "fail")


def full_task(task_id: str, **fields: Any) -> dict[str, Any]:
    return {"id": task_id, "title": "t", "description": "d", "parent_id": "p1", "status": "pending", "priority": 5,
            "summary": None, "result": None, "job_spec": None, **fields}


@pytest.mark.parametrize(
    ("tool", "arguments", "response", "kept", "lost"),
    [
        ("orchestrator_execute_subtask", {"task_id": "s1"}, {}, {"status": "in_progress"}, {"status": "pending"}),
        ("orchestrator_complete_subtask", {"task_id": "s1", "summary": "done"}, {}, {"status": "completed", "summary": "done"}, {"status": "in_progress"}),
        ("orchestrator_update_task", {"task_id": "s1", "priority": 9}, {}, {"priority": 9}, {"priority": 5}),
        ("orchestrator_cancel_task", {"task_id": "s1"}, {"cancelled_task_ids": ["s1"]}, {"status": "cancelled"}, {"status": "pending"}),
        ("orchestrator_synthesize_results", {"parent_id": "s1"}, {"complete": True}, {"status": "completed", "result": {}}, {"status": "in_progress"}),
        ("orchestrator_start_job", {"task_id": "s1", "job": {}}, {}, {"job_spec": {"kind": "builtin"}}, {}),
    ],
)
def test_every_acknowledged_change_must_still_show(tool: str, arguments: dict, response: dict, kept: dict, lost: dict) -> None:
    """Each changing tool: the change shown passes; the change gone (the effect removed) is caught."""
    history = History()
    change(history, tool, arguments, response)
    assert checks.lost_or_twice(history, [full_task("s1", **kept)]).ok
    verdict = checks.lost_or_twice(history, [full_task("s1", **lost)])
    assert verdict.ok is False and f"call #1 ({tool}) left task s1" in verdict.detail
    assert checks.lost_or_twice(history, []).detail.startswith("lost: task s1")


def test_a_later_or_overlapping_change_may_undo_an_earlier_one() -> None:
    history = History()
    change(history, "orchestrator_update_task", {"task_id": "s1", "priority": 9})
    change(history, "orchestrator_update_task", {"task_id": "s1", "priority": 2}, outcome="indeterminate")
    assert checks.lost_or_twice(history, [full_task("s1", priority=5)]).ok  # the later call's outcome is unknown


def write_snapshot(paths: Paths) -> Path:
    paths.state_dir.mkdir(parents=True)
    document = snapshot.build_snapshot(
        restart_reason="manual_request", active_tasks=[], suspended_tasks=[], client_sessions=[], database_state={}
    )
    paths.current_state.write_bytes(snapshot.render(document))
    return paths.current_state


def test_snapshot_hash_is_verified_independently(tmp_path: Path) -> None:
    paths = Paths(tmp_path)
    assert checks.snapshot_valid(paths).ok  # none yet: nothing to check
    state = write_snapshot(paths)
    assert checks.snapshot_valid(paths).ok
    state.write_text(state.read_text().replace('"manual_request"', '"error_recovery"'))
    verdict = checks.snapshot_valid(paths)
    assert verdict.ok is False and "integrity_hash" in verdict.detail
    state.write_text("{not json")
    assert checks.snapshot_valid(paths).ok is False


def test_database_integrity_check(tmp_path: Path) -> None:
    paths = Paths(tmp_path)
    assert checks.database_integrity(paths).ok
    paths.root.mkdir()
    with sqlite3.connect(paths.database) as connection:
        connection.execute("CREATE TABLE t (x TEXT)")
        connection.executemany("INSERT INTO t VALUES (?)", [("x" * 500,)] * 200)
        connection.execute("CREATE INDEX i ON t (x)")
    connection.close()
    assert checks.database_integrity(paths).ok
    data = bytearray(paths.database.read_bytes())
    data[4096 * 3 : 4096 * 3 + 200] = os.urandom(200)  # a page of the table or index
    paths.database.write_bytes(bytes(data))
    assert checks.database_integrity(paths).ok is False


def test_status_checks() -> None:
    assert checks.maintenance_off({"current_status": {"maintenance_mode": False}}).ok
    assert checks.maintenance_off({"current_status": {"maintenance_mode": True}}).ok is False
    assert checks.phase_settled({"current_status": {"phase": "complete"}}).ok
    assert checks.phase_settled({"current_status": {"phase": "loading_state"}}).ok is False


def test_a_process_left_in_the_run_directory_is_found(tmp_path: Path) -> None:
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], cwd=tmp_path)
    try:
        verdict = checks.no_stray_processes(processes_under(tmp_path), "scan")
        assert verdict.ok is False
        assert str(process.pid) in verdict.detail
    finally:
        process.kill()
        process.wait()
    assert checks.no_stray_processes(processes_under(tmp_path), "scan").ok


def test_no_mounts_under_a_fresh_directory(tmp_path: Path) -> None:
    assert checks.no_stray_mounts(tmp_path).ok and "/proc" in checks.mounts_under(Path("/proc"))


def test_an_error_inside_a_task_group_is_described_by_its_own_message() -> None:
    from chaos.engine.failure import describe_error

    nested = ExceptionGroup("unhandled errors in a TaskGroup", [ExceptionGroup("inner", [ValueError("the real cause")])])
    assert describe_error(nested) == "ValueError: the real cause"
    several = ExceptionGroup("two", [ValueError("a"), KeyError("b")])
    assert describe_error(several).startswith("ExceptionGroup: two")


def test_an_unanswered_archive_of_the_parent_may_have_changed_every_subtask() -> None:
    """The soak's workload archives a finished task: when that call goes unanswered, its answer
    cannot list the subtasks it archived, yet it may have archived them."""
    history = History()
    change(history, "orchestrator_complete_subtask", {"task_id": "s1", "summary": "done"}, {"status": "completed"})
    change(history, "orchestrator_delete_task", {"task_id": "p1", "archive": True}, outcome="indeterminate")
    archived = [full_task("p1", parent_id=None, status="archived"), full_task("s1", status="archived", summary="done")]
    assert checks.lost_or_twice(history, archived).ok
    history = History()
    change(history, "orchestrator_complete_subtask", {"task_id": "s1", "summary": "done"}, {"status": "completed"})
    assert not checks.lost_or_twice(history, archived).ok  # with nothing that could have archived it

"""The restart system against real processes: worker replacement, state, requests, error codes."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import anyio
import pytest

from chaos.target.client import call
from chaos.target.live.orchestrator import http_orchestrator, stdio_client
from chaos.waiting import wait_until
from orchestrator import snapshot
from orchestrator.config import Paths
from tests.orchestrator.integration.helpers import all_tasks, health, plan, ready

pytestmark = pytest.mark.live

LONG_JOB = {"kind": "builtin", "duration_s": 120, "checkpoint_interval_s": 0.1}


def arm(faults_file: Path, **points: dict) -> None:
    faults_file.write_text(json.dumps(points))


def fault_env(faults_file: Path) -> dict[str, str]:
    faults_file.write_text("{}")
    return {"MCP_TASK_ORCHESTRATOR_FAULTPOINTS": str(faults_file)}


def job_progress(base_dir: Path, task_id: str) -> float:
    with sqlite3.connect(Paths(base_dir).database) as conn:
        row = conn.execute("SELECT progress FROM jobs WHERE task_id = ?", (task_id,)).fetchone()
    return row[0] if row else 0.0


def job_status(base_dir: Path, task_id: str) -> str:
    with sqlite3.connect(Paths(base_dir).database) as conn:
        return conn.execute("SELECT status FROM jobs WHERE task_id = ?", (task_id,)).fetchone()[0]


async def start_job(client, base_dir: Path, job: dict) -> str:
    task_id = (await plan(client, "job carrier", job=job))["subtasks"][0]["id"]
    await call(client, "orchestrator_execute_subtask", {"task_id": task_id})
    await wait_until(lambda: job_progress(base_dir, task_id) > 0.0, 15, "the job's first checkpoint")
    return task_id


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


async def test_restart_replaces_the_worker_and_keeps_tasks_and_job_checkpoints(base_dir):
    async with http_orchestrator(base_dir) as orchestrator, orchestrator.client(mode="legacy") as client:
        await ready(client)
        task_id = await start_job(client, base_dir, LONG_JOB)
        before = await health(client)
        tasks_before = {t["id"] for t in await all_tasks(client)}
        progress_before = job_progress(base_dir, task_id)

        result = await call(client, "orchestrator_restart_server", {"reason": "configuration_update"})

        assert result["success"] is True, result
        assert result["error_code"] is None and result["phase"] == "complete" and result["progress"] == 100.0
        assert result["old_worker_pid"] == before["worker_pid"] != result["new_worker_pid"]
        assert [p["phase"] for p in result["phases"]] == [
            "maintenance_mode", "suspending_tasks", "serializing_state", "closing_connections", "finalizing",
            "starting_process", "loading_state", "resuming_tasks", "complete",
        ]
        assert result["restore_report"]["used"] == "current_state.json"
        await wait_until(lambda: not alive(before["worker_pid"]), 15, "the old worker to exit")
        after = await health(client)
        assert after["worker_pid"] == result["new_worker_pid"] and after["restart_count"] == 1
        assert after["healthy"] and not after["maintenance_mode"]
        assert {t["id"] for t in await all_tasks(client)} == tasks_before
        document = snapshot.verify_file(Paths(base_dir).current_state)
        assert document["restart_reason"] == "configuration_update"
        assert task_id in json.dumps(document["suspended_tasks"])
        assert job_progress(base_dir, task_id) >= progress_before
        await wait_until(lambda: job_status(base_dir, task_id) == "running", 10, "the job to run again")
        resumed_from = job_progress(base_dir, task_id)
        await wait_until(lambda: job_progress(base_dir, task_id) > resumed_from, 10, "the job to advance in the new worker")
        status = await call(client, "orchestrator_restart_status", {"include_history": True})
        assert status["current_status"]["phase"] == "complete" and not status["current_status"]["maintenance_mode"]
        assert status["history"]["total_restarts"] == 1
        assert status["history"]["recent_restarts"][0]["success"] is True


@pytest.mark.parametrize("transport", ["stdio", "http"])
async def test_requests_in_flight_and_arriving_mid_restart_are_answered_exactly_once(base_dir, transport):
    async def scenario(client):
        acknowledged: list[str] = []
        errors: list[dict] = []
        restarted = anyio.Event()

        async def load(worker: int) -> None:
            index = 0
            while not restarted.is_set() or index < 3:
                title = f"load-{worker}-{index}"
                result = await call(client, "orchestrator_plan_task", {
                    "title": title, "description": "load", "subtasks": [{"title": "s", "description": "", "specialist_role": "tester"}],
                })
                (acknowledged if "parent_task" in result else errors).append(title if "parent_task" in result else result)
                index += 1

        async with anyio.create_task_group() as group:
            for worker in range(4):
                group.start_soon(load, worker)
            result = await call(client, "orchestrator_restart_server", {})
            restarted.set()
        assert result["success"], json.dumps(result)[:1500]
        assert not errors, errors
        titles = [t["title"] for t in await all_tasks(client) if t["parent_id"] is None]
        assert sorted(titles) == sorted(acknowledged), "every acknowledged call applied exactly once"

    if transport == "stdio":
        async with stdio_client(base_dir) as client:
            await scenario(await ready(client))
    else:
        async with http_orchestrator(base_dir) as orchestrator, orchestrator.client(mode="legacy") as client:
            await scenario(await ready(client))


async def test_ten_restarts_in_a_row_over_stdio_with_load(base_dir):
    async with stdio_client(base_dir) as client:
        await ready(client)
        task_id = await start_job(client, base_dir, {**LONG_JOB, "duration_s": 600})
        acknowledged: list[str] = []
        done = anyio.Event()
        pids = []

        async def load() -> None:
            index = 0
            while not done.is_set():
                result = await call(client, "orchestrator_plan_task", {
                    "title": f"steady-{index}", "description": "", "subtasks": [{"title": "s", "description": "", "specialist_role": "reviewer"}],
                })
                assert "parent_task" in result, result
                acknowledged.append(f"steady-{index}")
                index += 1

        async with anyio.create_task_group() as group:
            group.start_soon(load)
            for _ in range(10):
                result = await call(client, "orchestrator_restart_server", {})
                assert result["success"], json.dumps(result)[:1500]
                pids.append(result["new_worker_pid"])
            done.set()
        assert len(set(pids)) == 10
        titles = [t["title"] for t in await all_tasks(client) if t["title"].startswith("steady-")]
        assert sorted(titles) == sorted(acknowledged) and len(acknowledged) > 10
        final = await health(client)
        assert final["restart_count"] == 10 and final["healthy"]
        assert job_progress(base_dir, task_id) > 0.0 and job_status(base_dir, task_id) == "running"


async def test_a_second_restart_during_one_gets_restart_002_and_the_first_completes(base_dir, tmp_path):
    faults = tmp_path / "faults.json"
    async with http_orchestrator(base_dir, env=fault_env(faults)) as orchestrator, orchestrator.client() as client:
        await ready(client)
        arm(faults, **{"snapshot.write": {"action": "delay", "seconds": 2}})
        outcome = {}

        async def first() -> None:
            outcome["first"] = await call(client, "orchestrator_restart_server", {})

        async with anyio.create_task_group() as group:
            group.start_soon(first)
            seen = []

            async def serializing():
                status = await call(client, "orchestrator_restart_status")
                seen.append(status["current_status"]["progress"])
                return status["current_status"]["phase"] == "serializing_state" and status

            status = await wait_until(serializing, 20, "the first restart to serialize state")
            assert status["current_status"]["maintenance_mode"] is True
            second = await call(client, "orchestrator_restart_server", {})
            emergency = await call(client, "orchestrator_restart_server", {"graceful": False})
        assert seen == sorted(seen), "progress never moves backwards"
        for refused in (second, emergency):
            assert refused["success"] is False and refused["error_code"] == "RESTART_002", refused
            assert refused["solution"] and "emergency" in refused["error"]
        assert outcome["first"]["success"] is True, outcome["first"]


async def test_restart_001_when_the_state_dir_is_unusable_at_start(base_dir):
    Paths(base_dir).root.mkdir()
    Paths(base_dir).state_dir.write_text("not a directory")
    async with http_orchestrator(base_dir) as orchestrator, orchestrator.client() as client:
        await ready(client)
        result = await call(client, "orchestrator_restart_server", {})
        assert result["error_code"] == "RESTART_001" and "state directory" in result["error"], result
        assert "startup logs" in result["solution"]
        assert "parent_task" in await plan(client, "still serving")
        readiness = (await health(client))["checks"]["reboot_readiness"]["details"]
        assert readiness["reboot_system_initialized"] is False


async def test_restart_003_while_another_process_holds_a_write_lock(base_dir):
    async with http_orchestrator(base_dir) as orchestrator, orchestrator.client() as client:
        await ready(client)
        await plan(client, "before the lock")
        holder = subprocess.Popen(
            [sys.executable, "-c", "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute('BEGIN EXCLUSIVE'); print('locked', flush=True); sys.stdin.read()", str(Paths(base_dir).database)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )
        try:
            assert holder.stdout.readline().strip() == "locked"
            prepare = await call(client, "orchestrator_shutdown_prepare")
            result = await call(client, "orchestrator_restart_server", {})
            assert prepare["ready_for_shutdown"] is False
            assert prepare["checks"]["database"]["transactions_pending"] >= 1
            assert result["error_code"] == "RESTART_003", result
            assert any("write lock" in issue for issue in prepare["blocking_issues"])
            assert "write lock" in result["error"]
            assert result["old_worker_pid"] == result["new_worker_pid"], "refused: nothing changed"
        finally:
            holder.stdin.close()
            holder.wait(10)
        assert (await call(client, "orchestrator_restart_server", {}))["success"]


async def test_restart_004_for_a_task_that_will_not_suspend_then_a_larger_timeout_succeeds(base_dir):
    async with http_orchestrator(base_dir, faultpoints=True) as orchestrator, orchestrator.client() as client:
        await ready(client)
        await start_job(client, base_dir, {**LONG_JOB, "ignore_suspend_s": 14})
        old_pid = (await health(client))["worker_pid"]
        failed = await call(client, "orchestrator_restart_server", {"timeout": 10})
        assert failed["error_code"] == "RESTART_004" and failed["phase"] == "failed", failed
        assert "did not suspend" in failed["error"]
        after = await health(client)
        assert after["worker_pid"] == old_pid and not after["maintenance_mode"], "rolled back to the old worker"
        assert "parent_task" in await plan(client, "served after rollback")
        succeeded = await call(client, "orchestrator_restart_server", {"timeout": 30})
        assert succeeded["success"], succeeded


async def test_restart_005_keeps_the_previous_snapshot_and_preserve_state_false_succeeds(base_dir, tmp_path):
    faults = tmp_path / "faults.json"
    async with http_orchestrator(base_dir, env=fault_env(faults)) as orchestrator, orchestrator.client() as client:
        await ready(client)
        assert (await call(client, "orchestrator_restart_server", {}))["success"]
        previous = Paths(base_dir).current_state.read_bytes()
        arm(faults, **{"snapshot.write": {"action": "error", "errno": "ENOSPC"}})
        failed = await call(client, "orchestrator_restart_server", {})
        assert failed["error_code"] == "RESTART_005" and "No space left" in failed["error"], failed
        assert Paths(base_dir).current_state.read_bytes() == previous
        assert not list(Paths(base_dir).state_dir.glob(".*tmp")), "no temp file left behind"
        assert not (await health(client))["maintenance_mode"]
        skipped = await call(client, "orchestrator_restart_server", {"preserve_state": False})
        assert skipped["success"], skipped


@pytest.mark.parametrize("action", ["exit", "crash"])
async def test_restart_006_when_the_replacement_cannot_start_old_worker_keeps_serving(base_dir, tmp_path, action):
    faults = tmp_path / "faults.json"
    async with http_orchestrator(base_dir, env=fault_env(faults)) as orchestrator, orchestrator.client() as client:
        await ready(client)
        task_id = await start_job(client, base_dir, LONG_JOB)
        old_pid = (await health(client))["worker_pid"]
        arm(faults, **{"worker.start": {"action": action}})
        failed = await call(client, "orchestrator_restart_server", {})
        assert failed["error_code"] == "RESTART_006", failed
        assert failed["old_worker_pid"] == old_pid == (await health(client))["worker_pid"]
        assert job_status(base_dir, task_id) == "running"
        arm(faults)
        assert (await call(client, "orchestrator_restart_server", {}))["success"]


async def test_restart_007_to_the_excess_only_and_error_recovery_clears(base_dir, tmp_path):
    faults = tmp_path / "faults.json"
    env = fault_env(faults)
    async with http_orchestrator(base_dir, ["--buffer-per-session", "2"], env) as orchestrator:
        async with orchestrator.client(mode="legacy") as admin, orchestrator.client(mode="legacy") as flooder:
            await call(flooder, "orchestrator_get_status")
            arm(faults, **{"snapshot.write": {"action": "delay", "seconds": 2}})
            answers: list[dict] = []

            async def one(index: int) -> None:
                answers.append(await call(flooder, "orchestrator_plan_task", {
                    "title": f"flood-{index}", "description": "", "subtasks": [{"title": "s", "description": "", "specialist_role": "tester"}],
                }))

            async with anyio.create_task_group() as group:
                group.start_soon(call, admin, "orchestrator_restart_server", {})
                await wait_until(
                    lambda: _phase_is(admin, "serializing_state"), 20, "the restart to serialize state"
                )
                for index in range(5):
                    group.start_soon(one, index)
            refused = [a for a in answers if a.get("error_code") == "RESTART_007"]
            served = [a for a in answers if "parent_task" in a]
            assert len(refused) == 3 and len(served) == 2, answers
            assert "buffer full" in refused[0]["error"]
            titles = {t["title"] for t in await all_tasks(admin)}
            assert {a["parent_task"]["title"] for a in served} <= titles
            assert not any(a.get("error_code") for a in [await call(admin, "orchestrator_get_status")])
            unhealthy = await health(admin)
            assert not unhealthy["healthy"] and unhealthy["checks"]["connections"]["status"] == "degraded", unhealthy
            assert "client connections degraded: 3 request(s) refused" in " ".join(unhealthy["problems"])
            prepared = await call(admin, "orchestrator_shutdown_prepare")
            assert prepared["checks"]["client_connections"]["status"] == "degraded", prepared
            arm(faults)
            recovery = await call(admin, "orchestrator_restart_server", {"reason": "error_recovery"})
            assert recovery["success"], recovery
            assert (await health(admin))["healthy"]
            test = await call(admin, "orchestrator_reconnect_test")
            assert test["results"]["buffer_status"]["total_buffered_requests"] == 0


async def _phase_is(client, phase: str) -> bool:
    return (await call(client, "orchestrator_restart_status"))["current_status"]["phase"] == phase


async def test_emergency_restart_brings_running_jobs_back_interrupted_and_loses_nothing(base_dir):
    async with http_orchestrator(base_dir, faultpoints=True) as orchestrator, orchestrator.client() as client:
        await ready(client)
        task_id = await start_job(client, base_dir, {**LONG_JOB, "ignore_suspend": True})
        tasks_before = {t["id"] for t in await all_tasks(client)}
        old_pid = (await health(client))["worker_pid"]
        result = await call(client, "orchestrator_restart_server", {"graceful": False, "preserve_state": False, "reason": "emergency_shutdown"})
        assert result["success"], json.dumps(result)[:1500]
        assert not alive(old_pid)
        assert job_status(base_dir, task_id) == "interrupted"
        assert {t["id"] for t in await all_tasks(client)} == tasks_before


async def test_a_crashed_worker_is_replaced_and_nothing_acknowledged_is_lost(base_dir):
    async with http_orchestrator(base_dir) as orchestrator, orchestrator.client() as client:
        await ready(client)
        ids = [(await plan(client, f"before-crash-{i}"))["parent_task"]["id"] for i in range(5)]
        old_pid = (await health(client))["worker_pid"]
        os.kill(old_pid, 9)
        answered = await plan(client, "after-crash")
        assert "parent_task" in answered
        after = await health(client)
        assert after["worker_pid"] != old_pid and after["healthy"]
        assert set(ids) <= {t["id"] for t in await all_tasks(client)}
        history = (await call(client, "orchestrator_restart_status", {"include_history": True}))["history"]
        assert history["recent_restarts"][0]["reason"] == "error_recovery"


async def test_a_tampered_snapshot_is_rejected_and_the_newest_backup_is_used(base_dir):
    async with http_orchestrator(base_dir) as orchestrator, orchestrator.client() as client:
        await ready(client)
        for _ in range(2):
            assert (await call(client, "orchestrator_restart_server", {}))["success"]
    current = Paths(base_dir).current_state
    data = bytearray(current.read_bytes())
    data[len(data) // 2] ^= 0x01
    current.write_bytes(bytes(data))
    newest_backup = snapshot.list_backups(Paths(base_dir))[0].name
    async with http_orchestrator(base_dir) as orchestrator, orchestrator.client() as client:
        await ready(client)
        restore = (await health(client))["state_restore"]
    assert restore["used"] == newest_backup and restore["source"] == "backup"
    assert restore["rejected"][0]["file"] == "current_state.json"


async def test_reconnect_test_probes_sessions_and_fails_an_unknown_one(base_dir):
    async with http_orchestrator(base_dir) as orchestrator:
        async with orchestrator.client(mode="legacy") as first, orchestrator.client(mode="legacy") as second:
            await call(second, "orchestrator_get_status")
            everyone = await call(first, "orchestrator_reconnect_test")
            assert everyone["overall_status"] == "pass", everyone
            probed = everyone["results"]["all_sessions"]
            assert len(probed) == 2 and all(p["reachable"] and p["round_trip_ms"] >= 0 for p in probed)
            unknown = await call(first, "orchestrator_reconnect_test", {"session_id": "nope"})
            assert unknown["overall_status"] == "fail"
            one = await call(first, "orchestrator_reconnect_test", {"session_id": probed[0]["session_id"]})
            assert one["results"]["session_test"]["status"] == "pass"


async def test_stateless_http_clients_are_counted_and_probed_by_their_tcp_connection(base_dir):
    async with http_orchestrator(base_dir) as orchestrator:
        async with orchestrator.client() as first, orchestrator.client() as second:
            await ready(first)
            await call(second, "orchestrator_get_status")
            connections = (await health(first))["checks"]["connections"]
            assert connections["active_connections"] == 2, connections
            probed = (await call(first, "orchestrator_reconnect_test"))["results"]["all_sessions"]
            assert [p["status"] for p in probed] == ["pass", "pass"]
        async with orchestrator.client() as third:
            remaining = (await call(third, "orchestrator_reconnect_test"))["results"]["all_sessions"]
            assert len(remaining) == 1, "closed clients are gone, not reported as failures"

"""Sim mode: the real supervisor and in-process workers on a virtual clock, replayable from a seed."""

from __future__ import annotations

import json
import sys
from datetime import UTC
from pathlib import Path

import pytest

from chaos.engine import RunOptions, run_one
from chaos.scenario import load_paths
from chaos.target.sim.clock import EPOCH
from chaos.target.sim.worker import InProcessWorker
from orchestrator.supervisor.runtime import Runtime
from tests.chaos.scenario.support import cli

HUNG_RESTART = """\
name: sim-hung-restart
description: a restart with the largest timeout waits out a hung job, then succeeds once it is healed
covers: {error_codes: [RESTART_004]}
timeout: 900
steps:
  - start: {clients: 2, tasks: 2, jobs: 1}
  - restart: {}
    expect: {phase: complete}
    save: {first: new_worker_pid}
  - inject: hung_task
    params: {duration_s: 900}
  - restart: {timeout: 300}
    error_code: RESTART_004
    expect:
      duration: {range: {min: 299, max: 301}}
  - heal: hung_task
  - kill_worker: SIGKILL
  - wait: orchestrator_health_check
    until: {healthy: true}
  - restart: {}
    expect:
      phase: complete
      new_worker_pid: {not_equals: "${saved.first}"}
"""

NEEDS_REAL_LOCK = """\
name: sim-db-lock
description: a held database lock needs a second real process
covers: {error_codes: [RESTART_008]}
steps:
  - start: {}
  - inject: db_lock
  - restart: {}
    error_code: RESTART_008
"""


def first_difference(one: bytes, other: bytes) -> str:
    lines = zip(one.decode().splitlines(), other.decode().splitlines(), strict=False)
    return next((f"line {n}: {a!r} != {b!r}" for n, (a, b) in enumerate(lines, 1) if a != b), "lengths differ")


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "scenario.yaml"
    path.write_text(text)
    return path


def simulate_file(path: Path, seed: int, workdir: Path):
    (loaded,), _ = load_paths([str(path)])
    return run_one(loaded, RunOptions(workdir=workdir, mode="sim", seed=seed))


def test_a_300_second_timeout_passes_in_virtual_time_and_the_restart_system_behaves_as_live(tmp_path):
    result = simulate_file(write(tmp_path, HUNG_RESTART), seed=1, workdir=tmp_path / "runs")
    assert result.outcome == "passed", result.report()
    assert result.duration_s >= 300, "the scenario's own clock is the virtual one"
    assert result.journal["call_outcomes"]["ok"] > 5


def test_the_same_seed_writes_the_same_journal_byte_for_byte_and_records_how_to_replay(tmp_path):
    scenario = write(tmp_path, HUNG_RESTART)
    journals = []
    for attempt in (1, 2):
        report = tmp_path / f"report-{attempt}"
        argv = ["run", str(scenario), "--mode", "sim", "--seed", "11", "--report", str(report), "--workdir", str(tmp_path / "runs"), "-q"]
        assert cli(argv) == 0
        journals.append((report / "journal.json").read_bytes())
    assert journals[0] == journals[1], first_difference(journals[0], journals[1])
    document = json.loads(journals[0])
    assert (document["mode"], document["seed"]) == ("sim", 11)
    assert document["project_version"]
    assert document["command"].endswith("--mode sim --seed 11")


def test_another_seed_makes_other_ids(tmp_path):
    scenario = write(tmp_path, HUNG_RESTART)
    first = simulate_file(scenario, seed=1, workdir=tmp_path / "a")
    second = simulate_file(scenario, seed=2, workdir=tmp_path / "b")
    assert first.outcome == second.outcome == "passed"
    assert json.dumps(first.journal) != json.dumps(second.journal)


def test_a_scenario_sim_mode_cannot_run_is_skipped_with_the_reason_and_nothing_runs(tmp_path):
    result = simulate_file(write(tmp_path, NEEDS_REAL_LOCK), seed=0, workdir=tmp_path / "runs")
    assert result.outcome == "skipped"
    assert "db_lock" in result.journal["notes"][0]["text"]
    assert "real time" in result.journal["notes"][0]["text"]
    assert result.journal["steps"] == []
    assert not (tmp_path / "runs").exists(), "no orchestrator was started"


def test_a_failure_in_sim_mode_prints_the_replay_command_with_its_seed(tmp_path, capsys):
    wrong = HUNG_RESTART.replace("RESTART_004", "RESTART_005")
    scenario = write(tmp_path, wrong)
    argv = ["run", str(scenario), "--mode", "sim", "--seed", "4", "--report", str(tmp_path / "report"), "--workdir", str(tmp_path / "runs"), "-q"]
    assert cli(argv) == 1
    out = capsys.readouterr().out
    assert f"reproduce: {sys.executable} -m chaos run {scenario} --mode sim --seed 4" in out  # no venv to activate
    assert 'expected: "RESTART_005"' in out and 'actual:   "RESTART_004"' in out


SUPERVISOR_CRASH = """\
name: sim-supervisor-crash
description: the supervisor itself fails while it replaces a killed worker
covers: {}
steps:
  - start: {}
  - kill_worker: SIGKILL
  - sleep: 1
    why: the supervisor notices the crash and fails in its recovery
  - call: orchestrator_health_check
"""


def test_a_supervisor_that_crashes_fails_its_scenario_with_the_traceback_as_a_live_process_would(tmp_path, monkeypatch):
    original = Runtime.recover

    async def broken_recovery(self, lost, why):
        if lost is None:  # the first start goes through recover too
            return await original(self, lost, why)
        raise RuntimeError("recovery broke")

    monkeypatch.setattr(Runtime, "recover", broken_recovery)
    result = simulate_file(write(tmp_path, SUPERVISOR_CRASH), seed=0, workdir=tmp_path / "runs")
    assert result.outcome == "failed", result.report()
    assert "the orchestrator is not running: the supervisor crashed: RuntimeError('recovery broke')" in result.report()
    assert result.kept_dir is not None
    assert "RuntimeError: recovery broke" in (Path(result.kept_dir) / "base" / "supervisor.stderr.log").read_text()


MINIMAL = """\
name: sim-minimal
description: start and one restart
covers: {}
steps:
  - start: {}
  - restart: {}
    expect: {phase: complete}
"""


def test_the_stray_process_check_reads_the_simulators_table(tmp_path, monkeypatch):
    passed = simulate_file(write(tmp_path, MINIMAL), seed=0, workdir=tmp_path / "clean")
    assert passed.outcome == "passed", passed.report()
    verdict = next(v for v in passed.journal["invariants"] if v["name"] == "no_stray_processes")
    assert verdict["detail"] == "none left: in the simulator's process table"

    monkeypatch.setattr(InProcessWorker, "_mark_exited", lambda self, reason: None)  # no worker ever ends
    failed = simulate_file(write(tmp_path, MINIMAL), seed=0, workdir=tmp_path / "stray")
    assert failed.outcome == "failed"
    assert "no_stray_processes broken: pid 5000002: simulated worker of supervisor 5000001" in failed.report()


REFUSED = """\
name: sim-refused-call
description: a call the orchestrator refuses
steps:
  - start: {}
  - call: orchestrator_execute_subtask
    args: {task_id: "00000000000000000000000000000000"}
"""


@pytest.mark.parametrize(
    ("expectation", "outcome"),
    [
        ("", "failed"),
        ("    allow_failure: true\n", "passed"),
        ("    expect: {is_error: true, text: {contains: \"00000000000000000000000000000000\"}}\n", "passed"),
        ("    expect: {task_id: x}\n", "failed"),
    ],
)
def test_a_failed_call_fails_its_step_unless_the_step_expects_the_failure(tmp_path, expectation, outcome):
    result = simulate_file(write(tmp_path, REFUSED + expectation), seed=0, workdir=tmp_path / "runs")
    assert result.outcome == outcome, result.report()
    if outcome == "failed":
        assert "orchestrator_execute_subtask failed:" in result.report()


FILE_TIMES = """\
name: sim-file-times
description: a shell step sees the run's files with the simulation's times, as `ls -la` in a guide step prints them
steps:
  - start: {}
  - restart: {}
  - shell: stat -c %Y .task_orchestrator/server_state/current_state.json .task_orchestrator/server_state
    save: {times: stdout}
"""


def test_a_shell_step_sees_the_run_s_files_with_simulated_times(tmp_path):
    """Real mtimes would change from one replay to the next (a journal differed at a minute's turn)."""
    result = simulate_file(write(tmp_path, FILE_TIMES), seed=1, workdir=tmp_path / "runs")
    assert result.outcome == "passed", result.report()
    (shell,) = [step for step in result.journal["steps"] if step["kind"] == "shell"]
    times = {int(word) for word in shell["result"]["stdout"].split()}
    epoch = EPOCH.replace(tzinfo=UTC).timestamp()
    assert len(times) == 1 and epoch <= times.pop() < epoch + 3600, shell["result"]["stdout"]

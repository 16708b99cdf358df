"""The Nth-fault sweep: what a restart's I/O path is, failures and crashes at chosen operations,
how outcomes are judged, and the command line. Every run is simulated, in the test's own directory."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from chaos.cli import main
from chaos.sweep.outcomes import DIED, SUCCESS, judge
from chaos.sweep.runner import SweepConfig, SweepRun, run_one
from chaos.sweep.schedule import Operation


@pytest.fixture
def config(tmp_path: Path) -> SweepConfig:
    return SweepConfig(workdir=tmp_path)


@pytest.fixture(scope="module")
def graceful_path(tmp_path_factory: pytest.TempPathFactory) -> list[Operation]:
    """The I/O operations of a graceful restart with state, from a run that injects nothing."""
    run = run_one(SweepConfig(workdir=tmp_path_factory.mktemp("baseline")), "graceful", None)
    assert run.ok and run.outcome == SUCCESS, run.problems
    return run.operations


def first(operations: list[Operation], matches: Callable[[Operation], bool]) -> Operation:
    return next(operation for operation in operations if matches(operation))


def test_a_graceful_restart_does_every_kind_of_io(graceful_path: list[Operation]) -> None:
    kinds = {operation.kind for operation in graceful_path}
    assert kinds == {"write", "fsync", "rename", "link", "unlink", "sqlite_write"}
    assert [op.number for op in graceful_path] == list(range(1, len(graceful_path) + 1))
    renamed = first(graceful_path, lambda op: op.kind == "rename")
    assert (renamed.target, renamed.origin) == ("current_state.json", "snapshot.write_snapshot")


def test_a_failed_snapshot_rename_is_restart_005_and_rolled_back(config: SweepConfig, graceful_path: list[Operation]) -> None:
    renamed = first(graceful_path, lambda op: op.kind == "rename")
    run = run_one(config, "graceful", renamed.number)
    assert run.struck == renamed
    assert (run.outcome, run.error_code) == ("RESTART_005", "RESTART_005")
    assert run.ok, run.problems  # invariants held and the restart after it succeeded
    assert run.kept is None and not list(config.workdir.iterdir())  # type: ignore[union-attr]


def test_a_failed_database_write_is_reported_as_such(config: SweepConfig, graceful_path: list[Operation]) -> None:
    write = first(graceful_path, lambda op: op.kind == "sqlite_write")
    run = run_one(config, "graceful", write.number)
    assert run.struck is not None and (run.struck.kind, run.struck.target) == ("sqlite_write", "task_orchestrator.db")
    assert run.ok, run.problems


def test_only_the_kinds_asked_for_are_counted(config: SweepConfig) -> None:
    config = SweepConfig(kinds=("sqlite_write",), workdir=config.workdir)
    run = run_one(config, "emergency", 1)
    assert run.struck is not None and run.struck.kind == "sqlite_write"
    assert {operation.kind for operation in run.operations} == {"sqlite_write"}


def test_a_supervisor_crash_is_recovered_by_starting_again_on_its_files(config: SweepConfig, graceful_path: list[Operation]) -> None:
    history = first(graceful_path, lambda op: op.target == "restart_history.jsonl")
    run = run_one(SweepConfig(crash=True, workdir=config.workdir), "graceful", history.number)
    assert run.outcome == DIED
    assert run.ok, run.problems  # started again: nothing acknowledged lost, invariants hold, a restart succeeds


def test_a_worker_crash_mid_snapshot_is_restart_006_and_recovered(config: SweepConfig, graceful_path: list[Operation]) -> None:
    snapshot = first(graceful_path, lambda op: op.origin == "snapshot.write_snapshot")
    run = run_one(SweepConfig(crash=True, workdir=config.workdir), "graceful", snapshot.number)
    assert run.error_code == "RESTART_006"
    assert run.ok, run.problems


def test_the_run_that_injects_nothing_ends_a_sweep(config: SweepConfig, graceful_path: list[Operation]) -> None:
    run = run_one(config, "graceful", len(graceful_path) + 1)
    assert run.struck is None and run.outcome == SUCCESS and run.ok


@pytest.mark.parametrize(
    ("target", "outcome", "crash", "acceptable"),
    [
        ("current_state.json", "RESTART_005", False, True),
        ("current_state.json", SUCCESS, False, False),  # success would restore stale state
        ("task_orchestrator.db", "RESTART_008", False, True),
        ("task_orchestrator.db", SUCCESS, False, True),  # a job checkpoint or a client's call failed alone
        ("restart_history.jsonl", SUCCESS, False, True),
        ("restart_history.jsonl", "RESTART_005", False, False),
        ("current_state.json", "RESTART_004", False, False),
        ("current_state.json", "RESTART_006", True, True),
        ("restart_history.jsonl", DIED, True, True),
        ("task_orchestrator.db", "RESTART_004", True, False),
    ],
)
def test_outcomes_are_judged_by_the_file_the_operation_touched(target: str, outcome: str, crash: bool, acceptable: bool) -> None:
    assert (judge(outcome, Operation(1, "write", target, "test"), crash) is None) is acceptable


def test_without_a_fault_only_success_is_acceptable() -> None:
    assert judge(SUCCESS, None, crash=False) is None
    assert "no fault was injected" in (judge("RESTART_005", None, crash=False) or "")


def test_replay_commands_name_every_option_that_changes_the_run() -> None:
    config = SweepConfig(kinds=("fsync", "rename"), crash=True, seed=3)
    assert config.replay_command("no_state", 7) == "python -m chaos sweep --only 7 --restart no_state --kinds fsync,rename --crash --seed 3"
    assert SweepConfig().replay_command("graceful", 2) == "python -m chaos sweep --only 2 --restart graceful --errno EIO"


def test_the_command_line_prints_the_table_and_exits_0(tmp_path: Path, capsys: pytest.CaptureFixture[str], graceful_path: list[Operation]) -> None:
    renamed = first(graceful_path, lambda op: op.kind == "rename")
    code = main(["sweep", "--only", str(renamed.number), "--restart", "graceful", "--workdir", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0
    assert re.search(rf"graceful +{renamed.number} +rename +current_state\.json +snapshot\.write_snapshot +failed +RESTART_005 +ok", out)
    assert "BAD" not in out


def test_unknown_kinds_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["sweep", "--kinds", "write,chmod"])
    assert exit_info.value.code == 2
    assert "unknown kind chmod" in capsys.readouterr().err


# -- what the crash sweep found in the orchestrator (fixed in eddc6d4): these runs must stay clean
def crash_run(config: SweepConfig, variant: str, nth: int) -> SweepRun:
    return run_one(SweepConfig(crash=True, workdir=config.workdir), variant, nth)


def test_a_worker_dying_under_a_client_call_during_a_restart(config: SweepConfig) -> None:
    run = crash_run(config, "no_state", 1)
    assert run.ok, run.problems


def test_a_restart_failing_before_its_replacement_is_up(config: SweepConfig) -> None:
    run = crash_run(config, "graceful", 1)
    assert run.ok, run.problems


def test_a_replacement_dying_in_activation_without_state(config: SweepConfig) -> None:
    run = crash_run(config, "no_state", 2)
    assert run.ok, run.problems

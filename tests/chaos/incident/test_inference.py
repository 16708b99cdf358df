"""Evidence to faults: the log line during a restart picks the fault; without one, the code's usual cause is a guess."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from chaos.incident import evidence
from chaos.incident.inference import infer
from orchestrator.supervisor.coordinator import RESTART_FAILED_LOG

from .support import field_dir, log_line, restart_line

AT = "2026-03-01T10:00:00+00:00"


def local(iso: str) -> str:
    """The log's rendering of an aware time: this machine's local wall clock."""
    return datetime.fromisoformat(iso).astimezone().strftime("%Y-%m-%d %H:%M:%S")


def story_of(tmp_path: Path, history: list[str], log: list[str] | None = None):
    return infer(evidence.read(field_dir(tmp_path, history, log)))


@pytest.mark.parametrize(
    ("line", "fault"),
    [
        ("state serialization failed: [Errno 28] No space left on device", "disk_full"),
        ("state serialization failed: [Errno 30] Read-only file system", "read_only"),
        ("state serialization failed: [Errno 13] Permission denied: 'current_state.json.tmp'", "permission_denied"),
    ],
)
def test_a_log_line_during_the_failed_restart_names_the_fault(tmp_path: Path, line: str, fault: str) -> None:
    story = story_of(tmp_path, [restart_line(AT, "RESTART_005", duration=2.0)], [log_line(local("2026-03-01T10:00:01+00:00"), line)])
    (event,) = story.events
    (injection,) = event.injections
    assert injection.fault == fault
    assert "server.log:1" in injection.why
    assert not any("guessed as" in guess for guess in story.guesses)


def test_a_log_line_outside_the_restart_is_not_its_cause(tmp_path: Path) -> None:
    log = [log_line(local("2026-03-01T11:00:00+00:00"), "[Errno 30] Read-only file system")]
    story = story_of(tmp_path, [restart_line(AT, "RESTART_005", duration=2.0)], log)
    assert [i.fault for i in story.events[0].injections] == ["disk_full"]
    assert any("guessed as disk_full" in guess for guess in story.guesses)


def test_restarts_keep_their_order_flags_and_timeout(tmp_path: Path) -> None:
    history = [
        restart_line("2026-03-01T10:05:00+00:00", "RESTART_004", duration=12.3, graceful=True),
        restart_line(AT),
        restart_line("2026-03-01T10:06:00+00:00", graceful=False, preserve_state=False, reason="emergency_shutdown"),
    ]
    story = story_of(tmp_path, history)
    codes = [e.restart.error_code for e in story.events]
    assert codes == [None, "RESTART_004", None]
    assert story.events[1].timeout == 12 and story.events[1].injections[0].fault == "hung_task"
    assert story.events[2].restart.graceful is False and story.events[2].restart.reason == "emergency_shutdown"
    assert story.events[2].timeout is None


def test_crash_recovery_is_replayed_as_a_killed_worker(tmp_path: Path) -> None:
    died = "2026-03-01T10:00:10+00:00"
    history = [restart_line("2026-03-01T10:00:12+00:00", duration=2.0, reason="error_recovery", graceful=False)]
    log = [log_line(local(died), "worker pid 77 exited unexpectedly (exit status -9); starting a replacement", role="supervisor")]
    (event,) = story_of(tmp_path, history, log).events
    assert event.restart is None and "exited unexpectedly" in event.killed_worker


def test_an_empty_directory_says_what_was_guessed(tmp_path: Path) -> None:
    root = tmp_path / ".task_orchestrator"
    (root / "logs").mkdir(parents=True)
    story = infer(evidence.read(root))
    assert story.events == []
    assert any("restart sequence is unknown" in g for g in story.guesses)
    assert any("no task_orchestrator.db" in g for g in story.guesses)


def test_unreproducible_codes_are_expected_all_the_same_and_listed(tmp_path: Path) -> None:
    story = story_of(tmp_path, [restart_line(AT, "RESTART_002")])
    assert story.events[0].injections == [] and story.events[0].restart.error_code == "RESTART_002"
    assert any("RESTART_002" in g for g in story.guesses)


def test_a_lock_that_outlasted_the_restart_is_taken_once_it_is_admitted_and_keeps_its_timeout(tmp_path: Path) -> None:
    log = [log_line(local("2026-03-01T10:00:05+00:00"), "WAL checkpoint: database is locked")]
    story = story_of(tmp_path, [restart_line(AT, "RESTART_008", duration=9.5)], log)
    (event,) = story.events
    (injection,) = event.injections
    assert (injection.fault, injection.params, event.timeout) == ("db_lock", {"hold_s": 30.0, "at_phase": "maintenance_mode"}, 10)


def test_the_orchestrator_s_own_line_for_a_failed_restart_names_its_cause(tmp_path: Path) -> None:
    """The line the coordinator logs when a restart fails (RESTART_FAILED_LOG), at the restart's very end."""
    said = RESTART_FAILED_LOG % ("manual_request", "RESTART_004", "1 task(s) did not suspend within 9.5s: job-1")
    story = story_of(tmp_path, [restart_line(AT, "RESTART_004", duration=10.0)], [log_line(local("2026-03-01T10:00:10+00:00"), said)])
    (injection,) = story.events[0].injections
    assert injection.fault == "hung_task"
    assert "server.log:1 says" in injection.why and "did not suspend" in injection.why
    assert not any("guessed as" in guess for guess in story.guesses)

"""The table of documented outcomes: each code only where the guide gives its cause."""

from __future__ import annotations

from chaos.explore.outcomes import Situation, allowed_codes, causes
from chaos.explore.schedule import FaultPlan

DISK_FULL = FaultPlan("disk_full")
HUNG = FaultPlan("hung_task", {"ignore_suspend_s": 20})
FROZEN = FaultPlan("hung_task", {"how": "sigstop"})


def test_a_quiet_moment_allows_only_success() -> None:
    assert allowed_codes(Situation()) == []
    assert allowed_codes(Situation(faults=(FaultPlan("corrupt_state", {"damage": "garbage"}),))) == []


def test_state_faults_bite_only_when_a_snapshot_is_written() -> None:
    assert allowed_codes(Situation(faults=(DISK_FULL,))) == ["RESTART_005"]
    assert allowed_codes(Situation(preserve_state=False, faults=(DISK_FULL,))) == []
    assert allowed_codes(Situation(graceful=False, faults=(DISK_FULL, FaultPlan("slow_io", {"seconds": 45})))) == []


def test_an_emergency_restart_waits_for_no_task_and_needs_no_ready_worker() -> None:
    assert allowed_codes(Situation(faults=(HUNG,))) == ["RESTART_004"]
    assert allowed_codes(Situation(faults=(FROZEN,))) == ["RESTART_003", "RESTART_004"]
    assert allowed_codes(Situation(graceful=False, faults=(HUNG, FROZEN), unsuspendable_jobs=True)) == []
    assert allowed_codes(Situation(graceful=False, worker_disturbed=True)) == ["RESTART_006"]


def test_replacements_that_fail_and_overlaps() -> None:
    never = FaultPlan("replacement_fails", {"mode": "never_healthy"})
    assert allowed_codes(Situation(graceful=False, faults=(never,))) == ["RESTART_004", "RESTART_006"]
    assert causes(Situation(overlapping_restart=True, faults=(HUNG,))) == {
        "RESTART_002": ["overlapping restart"],
        "RESTART_004": ["hung_task"],
    }


def test_faults_without_a_rule_allow_their_own_expected_codes() -> None:
    assert allowed_codes(Situation(faults=(FaultPlan("restart_in_progress"),))) == ["RESTART_002"]

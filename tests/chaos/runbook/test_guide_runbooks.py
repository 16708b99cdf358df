"""Every runbook under docs/runbooks/ recovers the incident it answers (docs/runbooks/incidents/NAME.yaml),
and a wrong variant of each fails at the block where it goes wrong, or at the recovery check it breaks."""

from __future__ import annotations

from pathlib import Path

import pytest

from chaos.runbook.cli import run_runbook

from .support import RUNBOOKS, variant


def test_every_runbook_has_its_incident() -> None:
    books = sorted(RUNBOOKS.glob("*.md"))
    assert books, "no runbook under docs/runbooks"
    assert [b.stem for b in books if not (RUNBOOKS / "incidents" / f"{b.stem}.yaml").is_file()] == []


def incident(runbook: Path) -> Path:
    return RUNBOOKS / "incidents" / f"{runbook.stem}.yaml"


@pytest.mark.live
@pytest.mark.parametrize("runbook", sorted(RUNBOOKS.glob("*.md")), ids=lambda path: path.stem)
def test_the_runbook_recovers_its_incident(runbook: Path, tmp_path: Path) -> None:
    verdict = run_runbook(runbook, incident(runbook), tmp_path / "report", tmp_path / "work")
    assert verdict is not None and verdict.recovered, verdict and verdict.summary
    assert {b.outcome for b in verdict.blocks if b.language in ("bash", "python")} == {"passed"}


# (runbook, what the right one says, what the wrong one says instead, how the verdict begins, what it or the failed block says)
WRONG = {
    "corrupted-state-without-a-new-snapshot": (
        "corrupted-state", '"preserve_state": true', '"preserve_state": false',
        "block 5 ", "BAD current_state.json",
    ),
    "hung-task-waiting-longer-for-the-job": (
        "hung-task", '"preserve_state": false,\n    "timeout": 30', '"timeout": 10',
        "block 3 ", "RESTART_004",
    ),
    "complete-recovery-clearing-the-write-ahead-log-as-a-lock": (
        "complete-system-recovery", "rm -f .task_orchestrator/*.lock\n",
        "rm -f .task_orchestrator/*.lock .task_orchestrator/*.db-wal .task_orchestrator/*.db-shm\n",
        "block 2 ", "destroyed what recovery needs: the database holds",
    ),
    "restoring-a-backup-without-stopping-the-server": (
        "state-recovery-from-backup", "pkill -f mcp_task_orchestrator", "true",
        "block 3 ", "stop it first",
    ),
    "restoring-the-newest-backup-unverified": (
        "state-recovery-from-backup",
        "python -m orchestrator state verify | awk '$1 == \"ok\" && $2 ~ /^backup_state_/ { print $2; exit }'",
        "ls .task_orchestrator/server_state/ | grep '^backup_state_' | sort -r | head -1",
        "block 3 ", "is not a valid snapshot",
    ),
    "an-emergency-restart-with-the-lock-still-held": (
        "held-database-lock", 'pkill -f "BEGIN EXCLUSIVE"', "true",
        "block 6 ", "Recovery successful: False",
    ),
    "a-graceful-restart-on-a-damaged-database": (
        "database-recovery", '"preserve_state": false,\n    "reason": "error_recovery"', '"reason": "error_recovery"',
        "block 4 ", "RESTART_008",
    ),
}


@pytest.mark.live
@pytest.mark.parametrize(("stem", "old", "new", "begins", "names"), WRONG.values(), ids=WRONG.keys())
def test_the_wrong_variant_fails_where_it_goes_wrong(stem: str, old: str, new: str, begins: str, names: str, tmp_path: Path) -> None:
    right = RUNBOOKS / f"{stem}.md"
    wrong = variant(right, tmp_path, old, new)
    verdict = run_runbook(wrong, incident(right), tmp_path / "report", tmp_path / "work")
    assert verdict is not None and not verdict.recovered
    assert verdict.summary.startswith(begins), verdict.summary
    failed = [b.output for b in verdict.blocks if b.outcome == "failed"]
    assert names in "\n".join([verdict.summary, *failed]), verdict.summary

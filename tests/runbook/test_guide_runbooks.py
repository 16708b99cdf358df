"""Every runbook under docs/runbooks/ recovers the incident it answers (docs/runbooks/incidents/NAME.yaml)."""

from __future__ import annotations

from pathlib import Path

import pytest

from chaos.runbook.cli import run_runbook

RUNBOOKS = Path(__file__).resolve().parents[2] / "docs" / "runbooks"


def test_every_runbook_has_its_incident() -> None:
    books = sorted(RUNBOOKS.glob("*.md"))
    assert books, "no runbook under docs/runbooks"
    assert [b.stem for b in books if not (RUNBOOKS / "incidents" / f"{b.stem}.yaml").is_file()] == []


@pytest.mark.live
@pytest.mark.parametrize("runbook", sorted(RUNBOOKS.glob("*.md")), ids=lambda path: path.stem)
def test_the_runbook_recovers_its_incident(runbook: Path, tmp_path: Path) -> None:
    verdict = run_runbook(runbook, RUNBOOKS / "incidents" / f"{runbook.stem}.yaml", tmp_path / "report", tmp_path / "work")
    assert verdict is not None and verdict.recovered, verdict and verdict.summary

"""A runbook with one passage changed: the wrong variant of a right one."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
RUNBOOKS = REPO / "docs" / "runbooks"


def variant(right: Path, directory: Path, old: str, new: str) -> Path:
    """`right` with `old` replaced by `new`, written as directory/wrong.md (`old` must be in it)."""
    text = right.read_text()
    assert old in text, f"{right.name} no longer says {old!r}"
    path = directory / "wrong.md"
    path.write_text(text.replace(old, new))
    return path

"""The files a run leaves for people and CI: junit.xml, journal.json and report.html, in one directory."""

from __future__ import annotations

from pathlib import Path

from chaos.engine.failure import ScenarioResult
from chaos.report import html, junit
from chaos.report.journal import RunInfo, default_directory, write_journal

__all__ = ["default_directory", "write_reports", "write_views"]


def write_reports(directory: Path, results: list[ScenarioResult], info: RunInfo) -> dict[str, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    write_journal(directory / "journal.json", info, [result.journal for result in results])
    return {"journal.json": directory / "journal.json", **write_views(directory, results, info)}


def write_views(directory: Path, results: list[ScenarioResult], info: RunInfo) -> dict[str, Path]:
    """junit.xml and report.html, the two files rendered from what the journal holds."""
    written = {name: directory / name for name in ("junit.xml", "report.html")}
    written["junit.xml"].write_bytes(junit.render(results, info.started, info.duration_s))
    written["report.html"].write_text(html.render(results, info.command, info.started, info.duration_s), encoding="utf-8")
    return written

"""`python -m chaos report`: the reports rendered again from journal.json, alone or merged from shards.

The journal is the single source of the other reports, so a CI job that ran one shard
(`chaos run --shard K/N`) need only keep its journal.json: merging them gives one journal with
every scenario once, and junit.xml and report.html with totals counted over all of them, as if
one job had run the lot.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from chaos.engine.failure import Failure, ScenarioResult
from chaos.errors import HarnessError
from chaos.report import write_reports, write_views
from chaos.report.journal import RunInfo
from chaos.scenario import load_scenario
from chaos.target import target_type

OUTCOMES = ("passed", "failed", "error", "skipped")


class JournalError(HarnessError, ValueError):
    """A journal that cannot be read or merged; the message names the file."""


def outcome_totals(outcomes: list[str]) -> dict[str, int]:
    return {outcome: outcomes.count(outcome) for outcome in OUTCOMES}


def read_journal(directory: Path) -> dict[str, Any]:
    path = directory / "journal.json"
    try:
        document = json.loads(path.read_text())
        if not isinstance(document.get("scenarios"), list):
            raise TypeError("no list of scenarios")
        run_info(document)  # it has what the reports show of the run
        return document
    except (OSError, ValueError, TypeError, AttributeError, KeyError) as exc:
        raise JournalError(f"{path}: not a run's journal ({type(exc).__name__}: {exc})") from exc


def run_info(document: dict[str, Any]) -> RunInfo:
    started = datetime.fromisoformat(document["started_at"]).timestamp()
    return RunInfo(document["command"], started, document["duration_s"], document.get("mode", "live"), document.get("seed"))


def results_of(scenarios: list[dict[str, Any]], info: RunInfo) -> list[ScenarioResult]:
    """The results a journal was written from, as far as the reports need them. The scenario is read
    again from its file when that is still there (the coverage matrix and a sim run's seed need it)."""
    results = []
    for entry in scenarios:
        path = Path(entry["file"])
        scenario = load_scenario(path).scenario if path.is_file() else None
        seed = info.seed
        if seed is None and scenario is not None and target_type(info.mode).replayable:
            seed = scenario.sim_seed or 0  # as RunOptions.target_for chose it: the scenario's own seed
        failures = [Failure(**failure) for failure in entry["failures"]]
        results.append(
            ScenarioResult(entry["name"], entry["file"], entry["outcome"], entry["duration_s"], failures, entry, scenario=scenario, seed=seed)
        )
    return results


def merged(documents: list[tuple[Path, dict[str, Any]]]) -> tuple[RunInfo, list[dict[str, Any]]]:
    """The shards' journals as one run: every scenario once (in file order), from the earliest start to
    the latest end, the shards' commands joined; mode and seed kept where the shards agree."""
    seen: dict[str, Path] = {}
    for directory, document in documents:
        for entry in document["scenarios"]:
            if entry["name"] in seen:
                raise JournalError(f"scenario {entry['name']!r} is in both {seen[entry['name']]} and {directory}: shards overlap")
            seen[entry["name"]] = directory
    infos = [run_info(document) for _, document in documents]
    start = min(info.started for info in infos)
    modes = {info.mode for info in infos}
    seeds = {info.seed for info in infos}
    info = RunInfo(
        " ; ".join(dict.fromkeys(info.command for info in infos)),
        start,
        max(info.started + info.duration_s for info in infos) - start,
        modes.pop() if len(modes) == 1 else "mixed",
        seeds.pop() if len(seeds) == 1 else None,
    )
    scenarios = sorted((entry for _, document in documents for entry in document["scenarios"]), key=lambda e: (e["file"], e["name"]))
    return info, scenarios


def merge(directories: list[Path], out: Path) -> tuple[list[ScenarioResult], dict[str, Path]]:
    """Write journal.json, junit.xml and report.html in `out` from the journals in `directories`."""
    info, scenarios = merged([(directory, read_journal(directory)) for directory in directories])
    results = results_of(scenarios, info)
    return results, write_reports(out, results, info)


def regenerate(directory: Path, out: Path) -> tuple[list[ScenarioResult], dict[str, Path]]:
    """Write junit.xml and report.html in `out` from `directory`/journal.json (left as it is)."""
    document = read_journal(directory)
    info = run_info(document)
    results = results_of(document["scenarios"], info)
    out.mkdir(parents=True, exist_ok=True)
    return results, write_views(out, results, info)

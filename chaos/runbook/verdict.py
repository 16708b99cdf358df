"""Did the runbook recover the system? The verdict, block by block, and the report beside the phase timeline.

The first step that failed decides what is said: a block that did not run as the runbook intends
(its exit status or output), a block after which the probe found something destroyed (that block
broke recovery), a recovery check that does not hold, or the incident's own set-up failing (then
the runbook was not judged at all).
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from chaos.engine.failure import ScenarioResult
from chaos.runbook.markdown import Block
from chaos.runbook.plan import block_step_name

OUTPUT_SHOWN = 1200


@dataclass
class BlockOutcome:
    number: int
    line: int
    language: str
    title: str
    outcome: str  # passed | failed | error | not run | skipped (documentation or `skip`)
    exit_code: int | None = None
    output: str = ""
    started_s: float | None = None
    duration_s: float | None = None


@dataclass
class Verdict:
    recovered: bool
    summary: str
    blocks: list[BlockOutcome] = field(default_factory=list)
    timeline: list[dict[str, Any]] = field(default_factory=list)


def judge(result: ScenarioResult, blocks: list[Block], runbook: str) -> Verdict:
    steps = result.journal["steps"]
    by_label = {step["label"]: step for step in steps}
    outcomes = [_block_outcome(block, by_label.get(block_step_name(block, runbook))) for block in blocks]
    failed = next((s for s in steps if s["outcome"] in ("failed", "error")), None)
    if result.outcome == "passed":
        summary = f"recovered: {sum(1 for b in outcomes if b.outcome == 'passed')} block(s) ran as intended and recovery holds"
    elif failed is None:
        summary = "recovery does not hold: " + "; ".join(f["message"] for f in result.journal["failures"])
    else:
        summary = _blame(failed, blocks, runbook)
    return Verdict(result.outcome == "passed", summary, outcomes, _timeline(result.journal))


def _blame(step: dict[str, Any], blocks: list[Block], runbook: str) -> str:
    label, message = step["label"], step["message"]
    block = re.match(r"runbook block (\d+)", label) or re.match(r"after block (\d+)", label)
    if block:
        number = int(block.group(1))
        where = next(f"{runbook}:{b.line}" for b in blocks if b.number == number)
        if label.startswith("after block"):
            output = (step.get("result") or {}).get("stderr", "").strip() or message
            return f"block {number} ({where}) broke recovery: {output}"
        return f"block {number} ({where}) did not run as the runbook intends: {message}"
    if label.startswith("recovery") or label.startswith("before the runbook"):
        return f"recovery does not hold: {label}: {message}"
    return f"the incident's set-up failed at {label!r} ({message}); the runbook was not judged"


def _block_outcome(block: Block, step: dict[str, Any] | None) -> BlockOutcome:
    outcome = BlockOutcome(block.number, block.line, block.language, block.title(), "skipped" if not block.runs else "not run")
    if step is None:
        return outcome
    result = step.get("result") or {}
    outcome.outcome = step["outcome"]
    outcome.exit_code = result.get("exit_code") if isinstance(result, dict) else None
    outcome.output = (result.get("stdout", "") if isinstance(result, dict) else "")[-OUTPUT_SHOWN:] or step["message"]
    outcome.started_s = step["started_s"]
    outcome.duration_s = round(step["ended_s"] - step["started_s"], 3) if step.get("ended_s") is not None else None
    return outcome


def _timeline(journal: dict[str, Any]) -> list[dict[str, Any]]:
    """Steps on the left, the orchestrator's restart phases on the right, in time order."""
    rows = [{"at_s": s["started_s"], "runbook": f"{s['label']}: {s['outcome']}"} for s in journal["steps"]]
    for restart in journal["restarts"]:
        outcome = restart.get("error_code") or ("ok" if restart.get("success") else "failed")
        rows += [{"at_s": p["at_s"], "orchestrator": f"{p['phase']}"} for p in restart["phases"] if p.get("at_s") is not None]
        if restart.get("completed_s") is not None:
            rows.append({"at_s": restart["completed_s"], "orchestrator": f"restart done: {outcome}"})
    return sorted(rows, key=lambda row: row["at_s"] if row["at_s"] is not None else -1)


def write_report(verdict: Verdict, directory: Path, runbook: str, incident: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "runbook.json").write_text(json.dumps(asdict(verdict), indent=2, default=str))
    lines = [f"# {runbook} against {incident}", "", f"**{'RECOVERED' if verdict.recovered else 'NOT RECOVERED'}**: {verdict.summary}", ""]
    lines += ["## Blocks", "", "| # | line | language | command | outcome | exit | time |", "|---|---|---|---|---|---|---|"]
    for b in verdict.blocks:
        lines.append(f"| {b.number} | {b.line} | {b.language} | `{b.title.replace('|', '/')}` | {b.outcome} | {'' if b.exit_code is None else b.exit_code} | {'' if b.duration_s is None else f'{b.duration_s:.2f}s'} |")
    lines += ["", "## Timeline", "", "| t (s) | runbook and checks | orchestrator phase |", "|---|---|---|"]
    for row in verdict.timeline:
        at = "" if row["at_s"] is None else f"{row['at_s']:.2f}"
        lines.append(f"| {at} | {row.get('runbook', '').replace('|', '/')} | {row.get('orchestrator', '')} |")
    lines += ["", "## Output of each block", ""]
    for b in verdict.blocks:
        if b.output:
            lines += [f"### block {b.number} (line {b.line}): {b.outcome}", "", "```", b.output.rstrip(), "```", ""]
    path = directory / "runbook.md"
    path.write_text("\n".join(lines) + "\n")
    return path

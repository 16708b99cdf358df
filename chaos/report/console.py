"""What a person sees in the terminal during and after a run: progress lines and a summary table."""

from __future__ import annotations

import sys
from typing import TextIO

from chaos.engine.failure import ScenarioResult
from chaos.journal import StepRecord, fallback_reason

MARKS = {"passed": "ok  ", "failed": "FAIL", "error": "ERR ", "cancelled": "--  "}


class ConsoleReporter:
    """One line per scenario start and end, and one per finished step (prefixed by the scenario)."""

    def __init__(self, total: int, stream: TextIO | None = None, steps: bool = True):
        self.total = total
        self.stream = stream or sys.stdout
        self.steps = steps
        self.finished = 0

    def _print(self, text: str) -> None:
        print(text, file=self.stream, flush=True)

    def scenario_started(self, name: str, file: str) -> None:
        self._print(f"[start] {name}  ({file})")

    def step_finished(self, name: str, record: StepRecord) -> None:
        fallback = fallback_reason(record)
        if fallback is not None and record.outcome == "passed":  # said even with --quiet: the run is not what it claims
            self._print(f"  {name}  FALLBACK {record.loc:<12} {record.label}: {fallback}")
        elif self.steps:
            seconds = (record.ended_s or record.started_s) - record.started_s
            self._print(f"  {name}  {MARKS.get(record.outcome, record.outcome)} {record.loc:<12} {record.label[:70]}  {seconds:.2f}s")

    def scenario_finished(self, result: ScenarioResult) -> None:
        self.finished += 1
        self._print(f"[{self.finished}/{self.total}] {result.outcome.upper():<6} {result.name}  {result.duration_s:.1f}s")


def summary_table(results: list[ScenarioResult]) -> str:
    header = ("scenario", "result", "time", "steps", "calls ok/fail/indet", "file")
    rows = []
    for result in results:
        steps = result.journal["steps"]
        passed = sum(1 for s in steps if s["outcome"] == "passed")
        counts = result.journal["call_outcomes"]
        rows.append(
            (
                result.name,
                result.outcome.upper(),
                f"{result.duration_s:.1f}s",
                f"{passed}/{len(steps)}",
                f"{counts.get('ok', 0)}/{counts.get('fail', 0)}/{counts.get('indeterminate', 0)}",
                result.file,
            )
        )
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in [header, *rows]]
    lines.insert(1, "  ".join("-" * width for width in widths))
    totals = {outcome: sum(1 for r in results if r.outcome == outcome) for outcome in ("passed", "failed", "error", "skipped")}
    lines.append("")
    lines.append(", ".join(f"{count} {outcome}" for outcome, count in totals.items() if count) or "no scenarios")
    return "\n".join(lines)

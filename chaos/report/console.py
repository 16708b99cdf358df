"""What a person sees in the terminal during and after a run: a block per scenario, a progress line, a summary table.

Scenarios running side by side never interleave their lines: each scenario's block (its result,
and under it the steps that failed and the faults that fell back) is printed when it ends. `-v`
prints every step as it happens instead, prefixed by its scenario; `-q` prints only the blocks
of scenarios that did not pass or had a FALLBACK. Beneath them a progress line (done, failed,
running, elapsed, time left) is redrawn in place on a terminal, and printed after every
PROGRESS_EVERY_S seconds of silence otherwise, so a long scenario never leaves the run mute.
Colour only on a terminal, and never with NO_COLOR set (https://no-color.org).
"""

from __future__ import annotations

import os
import shutil
import sys
import threading
import time
from collections.abc import Callable
from statistics import mean
from typing import TextIO

from chaos.engine.failure import ScenarioResult
from chaos.report.journal import StepRecord, fallback_reason
from chaos.report.words import counts_in_words, duration

QUIET, NORMAL, VERBOSE = 0, 1, 2
MARKS = {"passed": "ok  ", "failed": "FAIL", "error": "ERR ", "cancelled": "--  ", "skipped": "skip"}
COLOURS = {"passed": "32", "ok": "32", "failed": "31", "FAIL": "31", "error": "33", "ERR": "33", "FALLBACK": "35", "skipped": "2"}
REDRAW_S = 1.0  # how often the line on a terminal is redrawn (elapsed time and ETA move)
PROGRESS_EVERY_S = 10.0  # not a terminal: the longest silence before a progress line is printed


def colour_wanted(stream: TextIO) -> bool:
    return stream.isatty() and not os.environ.get("NO_COLOR") and os.environ.get("TERM") != "dumb"


class ConsoleReporter:
    """The run's console, told of every scenario start and end and every finished step (chaos.engine Reporter).

    `expected` maps scenario names to the seconds they are expected to take (earlier runs' journals);
    the time left is these, less what the running ones have had, laid out on `jobs` slots. A scenario
    with no figure counts as the mean of those finished in this run, until one has there is no ETA.
    """

    def __init__(
        self,
        total: int,
        stream: TextIO | None = None,
        verbosity: int = NORMAL,
        jobs: int = 1,
        expected: dict[str, float] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.total = total
        self.stream = stream or sys.stdout
        self.verbosity = verbosity
        self.jobs = max(1, jobs)
        self.expected = expected or {}
        self.clock = clock
        self.tty = self.stream.isatty()
        self.colour = colour_wanted(self.stream)
        self.started_at = clock()
        self.last_output = self.started_at
        self.running: dict[str, float] = {}  # name -> when it started
        self.notable: dict[str, list[str]] = {}  # name -> its failed steps and fallbacks, printed when it ends
        self.started: set[str] = set()
        self.took: list[float] = []  # seconds each scenario of this run took that ran (not skipped)
        self.finished = 0
        self.failed = 0
        self.progress_shown = False  # a progress line is on the terminal, to be cleared before the next line
        self.lock = threading.Lock()  # the ticker thread prints too
        self.stopped = threading.Event()
        self.ticker: threading.Thread | None = None

    @classmethod
    def for_run(
        cls, names: list[str], jobs: int, durations: dict[str, float], quiet: bool, verbose: bool, stream: TextIO
    ) -> ConsoleReporter:
        """The reporter of `chaos run`: `jobs` scenarios at a time, expected to take `durations` (seconds by
        scenario name, for the ETA)."""
        verbosity = VERBOSE if verbose else QUIET if quiet else NORMAL
        expected = {name: durations[name] for name in names if name in durations}
        return cls(len(names), stream, verbosity, jobs, expected)

    # -- told by the engine -----------------------------------------------------------------
    def scenario_started(self, name: str, file: str) -> None:
        with self.lock:
            self.running[name] = self.clock()
            self.started.add(name)
            self.notable[name] = []
            if self.verbosity >= VERBOSE:
                self._emit([f"[start] {name}  ({file})"])
        if self.ticker is None:
            self.ticker = threading.Thread(target=self._tick_until_stopped, name="chaos-progress", daemon=True)
            self.ticker.start()

    def step_finished(self, name: str, record: StepRecord) -> None:
        fallback = fallback_reason(record)
        with self.lock:
            if self.verbosity >= VERBOSE:
                if fallback is not None and record.outcome == "passed":
                    self._emit([f"  {name}  {self._paint('FALLBACK')} {record.loc:<12} {record.label}: {fallback}"])
                else:
                    seconds = (record.ended_s or record.started_s) - record.started_s
                    mark = self._paint(MARKS.get(record.outcome, record.outcome), record.outcome)
                    self._emit([f"  {name}  {mark} {record.loc:<12} {record.label[:70]}  {seconds:.2f}s"])
            elif fallback is not None and record.outcome == "passed":  # said even with -q: the run is not what it claims
                self.notable.setdefault(name, []).append(f"    {self._paint('FALLBACK')} {record.loc:<12} {record.label}: {fallback}")
            elif record.outcome not in ("passed", "skipped"):
                mark = self._paint(MARKS.get(record.outcome, record.outcome), record.outcome)
                line = f"    {mark} {record.loc:<12} {record.label[:70]} (line {record.line})"
                self.notable.setdefault(name, []).append(line + (f": {record.message}" if record.message else ""))

    def scenario_finished(self, result: ScenarioResult) -> None:
        with self.lock:
            started = self.running.pop(result.name, None)
            notable = self.notable.pop(result.name, [])
            self.finished += 1
            self.failed += result.outcome in ("failed", "error")
            if started is not None and result.outcome != "skipped":
                self.took.append(self.clock() - started)
            if self.verbosity > QUIET or notable or result.outcome in ("failed", "error"):
                outcome = self._paint(f"{result.outcome.upper():<6}", result.outcome)
                self._emit([f"[{self.finished}/{self.total}] {outcome} {result.name}  {result.duration_s:.1f}s", *notable])
        if self.finished >= self.total:
            self.close()

    def close(self) -> None:
        """Stop the progress line and take it off the terminal (the run ended, or stopped early)."""
        self.stopped.set()
        with self.lock:
            self._clear()

    # -- the progress line --------------------------------------------------------------------
    def progress(self) -> str:
        """"3 of 12 scenarios done, 1 failed; running a, b; 1m05s elapsed, about 2m10s left"."""
        parts = [f"{self.finished} of {self.total} scenarios done" + (f", {self.failed} failed" if self.failed else "")]
        if self.running:
            parts.append("running " + ", ".join(self.running))
        left = self.eta()
        elapsed = f"{duration(self.clock() - self.started_at)} elapsed"
        parts.append(elapsed + ("" if left is None else f", about {duration(left)} left"))
        return "; ".join(parts)

    def eta(self) -> float | None:
        """Seconds until the last scenario ends: the running ones' remaining time and the queued ones'
        expected time, each queued one started on the slot that frees first, longest first (as
        chaos.engine.batch orders them). None while some scenario's time is not known yet."""
        guess = mean(self.took) if self.took else None
        now = self.clock()
        remaining = []
        for name, started in self.running.items():
            expected = self.expected.get(name, guess)
            if expected is None:
                return None
            remaining.append(max(0.0, expected - (now - started)))
        queued = [seconds for name, seconds in self.expected.items() if name not in self.started]
        unknown = self.total - len(self.started) - len(queued)
        if unknown > 0:
            if guess is None:
                return None
            queued += [guess] * unknown
        slots = sorted(remaining) + [0.0] * max(0, self.jobs - len(remaining))
        for seconds in sorted(queued, reverse=True):
            slots[slots.index(min(slots))] += seconds
        return max(slots, default=0.0)

    def tick(self) -> None:
        """Redraw the line on a terminal; elsewhere print it if nothing was printed for PROGRESS_EVERY_S."""
        with self.lock:
            if self.stopped.is_set():
                return
            if self.tty:
                self._draw()
            elif self.clock() - self.last_output >= PROGRESS_EVERY_S:
                self._emit([f"progress: {self.progress()}"])

    def _tick_until_stopped(self) -> None:
        while not self.stopped.wait(REDRAW_S):
            self.tick()

    # -- output (the lock held) ---------------------------------------------------------------
    def _emit(self, lines: list[str]) -> None:
        self._clear()
        for line in lines:
            print(line, file=self.stream)
        self.last_output = self.clock()
        if self.tty and not self.stopped.is_set():
            self._draw()
        self.stream.flush()

    def _draw(self) -> None:
        width = shutil.get_terminal_size().columns - 1
        self.stream.write("\r\033[K" + self.progress()[:width])
        self.stream.flush()
        self.progress_shown = True

    def _clear(self) -> None:
        if self.progress_shown:
            self.stream.write("\r\033[K")
            self.stream.flush()
            self.progress_shown = False

    def _paint(self, text: str, key: str | None = None) -> str:
        code = COLOURS.get(key or text.strip())
        return f"\033[{code}m{text}\033[0m" if self.colour and code else text


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
    lines.append("")
    lines.append(counts_in_words([result.outcome for result in results]))
    return "\n".join(lines)

"""Exploring on several cores: `--seed S --jobs N` runs the searches `--seed S`, ..., `--seed S+N-1`
side by side, one process each, sharing out the schedules.

Each part reports its tally after every run; this process adds them up for the progress line.
The first part to report a finding (already shrunk, by that part) ends the exploration: the others
are told to stop after their current run. The finding keeps its part's seed and tally, so its file
names the one-process command that draws it again (`--seed S+i`). Ctrl-C reaches every process of
the group; the parts ignore it, and this process stops them as it does after a finding. Parts are
forked, so they need nothing pickled but their results and inherit the harness as it was set up.

`--shard K/N` spreads the same over N CI jobs: with `--jobs J` each, job K runs parts (K-1)*J to
K*J-1 of N*J, so the N jobs together draw exactly the schedules one job of N*J cores would.
"""

from __future__ import annotations

import multiprocessing
import queue
import signal
import traceback
from collections.abc import Callable, Iterable
from dataclasses import replace
from multiprocessing.synchronize import Event
from pathlib import Path
from typing import Any

from chaos.explore.search import Exploration, Tally, explore

POLL_S = 0.5


class PartStopped(BaseException):
    """Raised inside a part's search when the exploration ends early (another part found something,
    or Ctrl-C): a BaseException, so hypothesis does not take it for a failure of the schedule."""


def shares(count: int, jobs: int) -> list[int]:
    """`count` schedules shared out over `jobs` parts, as evenly as they go (no part gets none)."""
    return [count // jobs + (part < count % jobs) for part in range(min(jobs, count))]


def assigned(count: int, jobs: int, shard: tuple[int, int] = (1, 1)) -> list[tuple[int, int]]:
    """(seed offset, schedules) of each part this process runs: shard K/N of `jobs` parts each
    (none when N*jobs parts leave this shard nothing to draw)."""
    part, parts = shard
    everyone = shares(count, parts * jobs)
    return [(offset, everyone[offset]) for offset in range((part - 1) * jobs, part * jobs) if offset < len(everyone)]


def explore_in_parts(
    seed: int,
    count: int,
    jobs: int,
    max_moves: int,
    run: Callable[[Any, Path], Any],
    progress: Callable[[Tally], None],
    workdir: Path,
    shard: tuple[int, int] = (1, 1),
) -> tuple[Exploration, Tally]:
    """Run the parts; return the finding's exploration (else the first part's) and the tally of all.

    `run(schedule, directory)` judges one schedule, as chaos.explore.run.run_schedule does. Part i
    works in `workdir/part<i>`; the caller removes `workdir`, so even a part that died leaves nothing."""
    context = multiprocessing.get_context("fork")
    updates: multiprocessing.Queue = context.Queue()
    stop = context.Event()
    processes = [
        context.Process(target=_part, args=(part, seed + offset, share, max_moves, run, workdir, updates, stop), daemon=True)
        for part, (offset, share) in enumerate(assigned(count, jobs, shard))
    ]
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})  # held until each part ignores it
    try:
        for process in processes:
            process.start()
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    tallies = {part: Tally() for part in range(len(processes))}
    results: dict[int, Exploration | BaseException] = {}
    total = Tally()
    try:
        while len(results) < len(processes):
            try:
                kind, part, payload = updates.get(timeout=POLL_S)
            except queue.Empty:
                _check_alive(processes, results)
                continue
            if kind == "tally":
                tallies[part] = payload
                _add_up(total, tallies.values())
                progress(total)
            else:
                results[part] = payload
                if isinstance(payload, BaseException) or payload.schedule is not None:
                    stop.set()
    finally:
        stop.set()
        while any(process.is_alive() for process in processes):  # drained, or a part could block on exit
            try:
                updates.get(timeout=POLL_S)
            except queue.Empty:
                pass
        for process in processes:
            process.join()
    failed = [result for result in results.values() if isinstance(result, BaseException)]
    if failed:
        raise failed[0]
    explorations = [results[part] for part in sorted(results)]
    found = [exploration for exploration in explorations if isinstance(exploration, Exploration) and exploration.schedule]
    chosen = found[0] if found else explorations[0]
    assert isinstance(chosen, Exploration)
    chosen.note = "; ".join(e.note for e in explorations if isinstance(e, Exploration) and e.note)
    return chosen, total


def _add_up(total: Tally, parts: Iterable[Tally]) -> None:
    parts = list(parts)
    total.runs = sum(part.runs for part in parts)
    total.inapplicable = sum(part.inapplicable for part in parts)
    total.failing = sum(part.failing for part in parts)
    total.explored = sum(part.explored for part in parts)


def _check_alive(processes: list[Any], results: dict[int, Any]) -> None:
    """A part that ended with an error status died before it could report (a part that ended well
    has put its result, which may still be on its way)."""
    for part, process in enumerate(processes):
        if part not in results and process.exitcode:
            results[part] = RuntimeError(f"exploration part {part} died without a result (exit status {process.exitcode})")


def _part(part: int, seed: int, count: int, max_moves: int, run: Callable[[Any, Path], Any], workdir: Path,
          updates: multiprocessing.Queue, stop: Event) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle: it stops the parts
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    directory = workdir / f"part{part}"
    directory.mkdir(parents=True, exist_ok=True)

    def report(tally: Tally) -> None:
        updates.put(("tally", part, replace(tally)))  # a copy: the counts as they are now
        if stop.is_set():
            raise PartStopped()

    try:
        exploration = explore(seed, count, max_moves, lambda schedule: run(schedule, directory), report)
        result: Exploration | BaseException = exploration
    except PartStopped:
        result = Exploration(seed, Tally())
    except Exception:  # a bug of exploration itself: the parent raises it
        result = RuntimeError(f"exploration part {part} (seed {seed}) failed:\n{traceback.format_exc()}")
    updates.put(("done", part, result))

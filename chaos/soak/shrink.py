"""A failed soak as a scenario file: the fewest of its events that still fail without the workload.

The events are already scenario steps, each ending with "the orchestrator serves again" and a probe
call, so a subset of them is a scenario that can fail on its own. Candidates are tried in the
order most likely to be short: the event during which the soak first went wrong, alone; the events
up to it; all of them. The first that fails (as exploration judges a run: a failed check, not a
precondition that did not happen) is shrunk further by dropping one event at a time while it still
fails the same way, within MAX_RUNS runs. The result is written beside the soak's reports, with a
description that says where it comes from; a failure that needs the workload's concurrency to show
is reported as such, with no file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from chaos.engine.lifecycle import RunOptions, run_one
from chaos.explore.judge import Verdict, judge
from chaos.explore.run import loaded
from chaos.explore.yaml_text import scenario_yaml
from chaos.soak import nemesis
from chaos.soak.run import SoakResult

MAX_RUNS = 12
NAME_LIMIT = 80


@dataclass
class Shrunk:
    path: Path | None
    events: list[nemesis.Event]
    verdict: Verdict | None
    runs: int

    @property
    def text(self) -> str:
        if self.path is None or self.verdict is None:
            return f"the failure did not show without the workload in {self.runs} run(s): see the soak's journal"
        kinds = ", ".join(event.label for event in self.events)
        return f"shrunk in {self.runs} run(s) to {len(self.events)} event(s) ({kinds}): {self.verdict.signature}\nscenario: {self.path}"


def first_bad_event(result: SoakResult) -> int:
    """The event during (or after) which the soak first went wrong: a failed check of the nemesis, or
    the first call the checker faults; the last event if neither can be placed."""
    failed = [index for index, outcome in enumerate(result.events) if outcome.outcome == "failed"]
    call_ids = {finding.call for finding in result.verdict.findings if finding.call is not None}
    calls = {record["id"]: record for record in result.scenario.journal["calls"] if record["id"] in call_ids}
    if calls:
        first_call = min(record["invoked_s"] for record in calls.values())
        opened = [index for index, o in enumerate(result.events) if o.window and o.window.opened - result.t0 <= first_call]
        failed.append(opened[-1] if opened else 0)
    return min(failed, default=len(result.events) - 1)


def shrink(result: SoakResult, out_dir: Path) -> Shrunk:
    events = [outcome.event for outcome in result.events]
    bad = first_bad_event(result)
    attempt = _Attempts(result, out_dir)
    for candidate in ([events[bad]], events[: bad + 1], events):
        verdict = attempt(candidate)
        if verdict is not None and verdict.found:
            return attempt.write(_drop_one_at_a_time(attempt, candidate, verdict))
        if attempt.runs >= MAX_RUNS:
            break
    return Shrunk(None, [], None, attempt.runs)


def _drop_one_at_a_time(attempt: _Attempts, events: list[nemesis.Event], verdict: Verdict) -> tuple[list[nemesis.Event], Verdict]:
    index = 0
    while index < len(events) and len(events) > 1 and attempt.runs < MAX_RUNS:
        shorter = events[:index] + events[index + 1 :]
        again = attempt(shorter)
        if again is not None and again.signature == verdict.signature:
            events, verdict = shorter, again
        else:
            index += 1
    return events, verdict


class _Attempts:
    """Runs candidate event lists as scenarios, in the soak's mode and with its seed; counts the runs."""

    def __init__(self, result: SoakResult, out_dir: Path):
        self.result = result
        self.options = result.options
        self.out_dir = out_dir
        self.runs = 0

    def document(self, events: list[nemesis.Event], name: str, description: str) -> str:
        story = nemesis.story(self.options.clients, events, self.options.live)
        return scenario_yaml(story.document(name, description, self.options.seed))

    def __call__(self, events: list[nemesis.Event]) -> Verdict | None:
        self.runs += 1
        path = self.out_dir / "shrinking" / f"candidate-{self.runs}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.document(events, "soak-candidate", "a candidate of the soak's shrinking"))
        candidate = loaded(path.read_text(), path)
        outcome = run_one(candidate, RunOptions(workdir=path.parent, mode=self.options.mode, seed=self.options.seed))
        roles = nemesis.story(self.options.clients, events, self.options.live).roles
        return judge(outcome, roles)

    def write(self, shrunk: tuple[list[nemesis.Event], Verdict]) -> Shrunk:
        events, verdict = shrunk
        words = re.sub(r"[^a-z0-9]+", "-", verdict.signature.lower()).strip("-")
        name = f"soak-seed{self.options.seed}-{words}"[:NAME_LIMIT].rstrip("-.")
        soak = self.result.public()
        description = (
            f"Found by python -m chaos soak --mode {self.options.mode} --seed {self.options.seed} --events {self.options.events} "
            f"--clients {self.options.clients} ({soak['calls']} calls, {soak['failed']} failed, availability "
            f"{soak['availability']:.2%}) and shrunk to the events it needs without the workload: {verdict.signature}."
        )
        path = self.out_dir / f"{name}.yaml"
        path.write_text(self.document(events, name, description))
        loaded(path.read_text(), path)  # raises if the validator refuses it
        return Shrunk(path, events, verdict, self.runs)

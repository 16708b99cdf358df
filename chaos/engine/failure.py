"""How a failed scenario reads, the same in the terminal, JUnit, the HTML report and pytest.

A failure names the scenario file and line that said what should happen, what was expected and
what was seen (every mismatch of the step, each with its own line), and ends with the one
command that runs the scenario again.
"""

from __future__ import annotations

import shlex
import sys
import traceback
from dataclasses import asdict, dataclass, field
from typing import Any

from chaos.errors import unwrapped
from chaos.scenario import Scenario
from chaos.scenario.expect import show


def describe_error(exc: BaseException) -> str:
    """One line for an error, looking inside task-group wrappers (a fault failing in a parallel branch
    would otherwise read "ExceptionGroup: unhandled errors in a TaskGroup (1 sub-exception)")."""
    exc = unwrapped(exc)
    return "".join(traceback.format_exception_only(type(exc), exc)).strip()


def chaos_command(*words: str) -> str:
    """`python -m chaos WORDS` with this interpreter's own path, so that it runs from any shell
    (a bare `python` needs the virtualenv activated first)."""
    return shlex.join([sys.executable, "-m", "chaos", *words])


def reproduce_command(file: str, seed: int | None = None) -> str:
    """The one line that runs a scenario again: in sim mode with its seed, which replays it exactly."""
    return chaos_command("run", file, *([] if seed is None else ["--mode", "sim", "--seed", str(seed)]))


@dataclass
class Failure:
    file: str
    line: int
    where: str  # the step (e.g. "steps[3] restart") or "invariant"
    message: str
    kind: str = "failed"  # failed: the system did not behave; error: the harness could not run the story
    mismatches: list[dict[str, Any]] = field(default_factory=list)  # path, expected, actual, line
    response: str | None = None

    def public(self) -> dict[str, Any]:
        return asdict(self)

    def headline(self) -> str:
        return f"{self.file}:{self.line}: {self.where}: {self.message}"

    def lines(self) -> list[str]:
        out = [self.headline()]
        for mismatch in self.mismatches:
            out.append(f"    {self.file}:{mismatch['line']}: {mismatch['path']}")
            out.append(f"        expected: {mismatch['expected']}")
            out.append(f"        actual:   {mismatch['actual']}")
        if self.response is not None:
            out.append(f"    response: {self.response}")
        return out


def response_excerpt(response: Any) -> str | None:
    return None if response is None else show(response, limit=600)


@dataclass
class ScenarioResult:
    name: str
    file: str
    outcome: str  # passed | failed | error
    duration_s: float
    failures: list[Failure]
    journal: dict[str, Any]
    kept_dir: str | None = None
    scenario: Scenario | None = field(default=None, repr=False)
    seed: int | None = None  # set for a simulated run: replaying it needs the seed

    @property
    def reproduce(self) -> str:
        return reproduce_command(self.file, self.seed)

    @property
    def passed(self) -> bool:
        return self.outcome == "passed"

    def report(self) -> str:
        """The failure text: what broke, where, expected versus actual, and how to run it again."""
        out = [f"{self.outcome.upper()} {self.name} ({self.file})"]
        for failure in self.failures:
            out += ["  " + line for line in failure.lines()]
        if self.kept_dir:
            out.append(f"  files kept in {self.kept_dir} (base/.task_orchestrator/logs/server.log, base/supervisor.stderr.log)")
        out.append(f"  reproduce: {self.reproduce}")
        return "\n".join(out)

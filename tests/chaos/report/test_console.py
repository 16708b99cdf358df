"""The console during a run: a block per scenario, -v for every step, a progress line with a time left."""

from __future__ import annotations

import io

import pytest

from chaos.engine.failure import ScenarioResult
from chaos.report import console
from chaos.report.console import NORMAL, QUIET, VERBOSE, ConsoleReporter, summary_table
from chaos.report.journal import StepRecord


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture(autouse=True)
def no_ticker(monkeypatch: pytest.MonkeyPatch) -> None:
    """The tests tick by hand, on a clock of their own."""
    monkeypatch.setattr(console, "REDRAW_S", 3600.0)


def step(loc: str, outcome: str = "passed", **more) -> StepRecord:
    return StepRecord(loc, more.pop("kind", "call"), f"call {loc}", 7, 0.0, 0.25, outcome, **more)


def result(name: str, outcome: str = "passed") -> ScenarioResult:
    return ScenarioResult(name, f"{name}.yaml", outcome, 1.5, [], {"steps": [], "call_outcomes": {}})


def two_at_once(reporter: ConsoleReporter) -> None:
    reporter.scenario_started("a", "a.yaml")
    reporter.scenario_started("b", "b.yaml")
    reporter.step_finished("a", step("steps[0]"))
    reporter.step_finished("b", step("steps[0]"))
    reporter.step_finished("b", step("steps[1]", "failed", message="expectation not met"))
    reporter.step_finished("a", step("steps[1]", kind="inject", result={"real": False, "fallback_reason": "a fault point"}))
    reporter.scenario_finished(result("a"))
    reporter.scenario_finished(result("b", "failed"))


def test_scenarios_running_at_once_print_a_block_each_when_they_end() -> None:
    out = io.StringIO()
    two_at_once(ConsoleReporter(2, out, NORMAL, jobs=2))
    assert out.getvalue().splitlines() == [
        "[1/2] PASSED a  1.5s",
        "    FALLBACK steps[1]     call steps[1]: a fault point",
        "[2/2] FAILED b  1.5s",
        "    FAIL steps[1]     call steps[1] (line 7): expectation not met",
    ]


def test_quiet_prints_only_what_did_not_pass_or_fell_back() -> None:
    out = io.StringIO()
    reporter = ConsoleReporter(3, out, QUIET, jobs=2)
    two_at_once(reporter)
    reporter.scenario_started("c", "c.yaml")
    reporter.scenario_finished(result("c"))
    assert "[3/3]" not in out.getvalue() and out.getvalue().count("\n") == 4


def test_verbose_prints_every_step_as_it_happens() -> None:
    out = io.StringIO()
    two_at_once(ConsoleReporter(2, out, VERBOSE, jobs=2))
    assert out.getvalue().splitlines()[:5] == [
        "[start] a  (a.yaml)",
        "[start] b  (b.yaml)",
        "  a  ok   steps[0]     call steps[0]  0.25s",
        "  b  ok   steps[0]     call steps[0]  0.25s",
        "  b  FAIL steps[1]     call steps[1]  0.25s",
    ]


def test_the_time_left_lays_the_expected_durations_out_on_the_job_slots() -> None:
    clock = Clock()
    reporter = ConsoleReporter(4, io.StringIO(), jobs=2, expected={"a": 100, "b": 50, "c": 30, "d": 20}, clock=clock)
    reporter.scenario_started("a", "a.yaml")
    reporter.scenario_started("b", "b.yaml")
    clock.now = 10
    assert reporter.eta() == 90  # b's slot frees at 40, takes c (to 70) then d (to 90); a ends at 90
    clock.now = 95
    reporter.scenario_finished(result("b"))
    assert reporter.eta() == 30  # c on the free slot (to 30), d after a's last 5 s (to 25)
    clock.now = 120
    assert reporter.eta() == 30  # a runs late: it is counted as ending now
    reporter.close()


def test_without_earlier_durations_the_time_left_comes_from_this_runs_pace() -> None:
    clock = Clock()
    reporter = ConsoleReporter(3, io.StringIO(), clock=clock)
    reporter.scenario_started("a", "a.yaml")
    clock.now = 5
    assert reporter.eta() is None and "left" not in reporter.progress()
    clock.now = 20
    reporter.scenario_finished(result("a"))
    assert reporter.eta() == 40
    assert reporter.progress() == "1 of 3 scenarios done; 20.0s elapsed, about 40.0s left"
    reporter.close()


def test_off_a_terminal_a_progress_line_breaks_every_silence_of_ten_seconds() -> None:
    clock, out = Clock(), io.StringIO()
    reporter = ConsoleReporter(2, out, QUIET, clock=clock)
    reporter.scenario_started("long", "long.yaml")
    clock.now = 9.9
    reporter.tick()
    assert out.getvalue() == ""
    clock.now = 10
    reporter.tick()
    reporter.tick()
    assert out.getvalue() == "progress: 0 of 2 scenarios done; running long; 10.0s elapsed\n"
    reporter.close()


def test_on_a_terminal_the_progress_line_is_redrawn_in_place_below_the_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    clock, out = Clock(), Terminal()
    reporter = ConsoleReporter(2, out, clock=clock)
    reporter.scenario_started("a", "a.yaml")
    clock.now = 3
    reporter.tick()
    reporter.scenario_finished(result("a"))
    reporter.close()
    assert out.getvalue() == (
        "\r\033[K0 of 2 scenarios done; running a; 3.0s elapsed"
        "\r\033[K[1/2] PASSED a  1.5s\n"
        "\r\033[K1 of 2 scenarios done; 3.0s elapsed, about 3.0s left"
        "\r\033[K"
    )


def test_colour_only_on_a_terminal_and_never_with_no_color(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    assert "\033[31mFAILED\033[0m" in finished_on(Terminal())
    assert "\033[" not in finished_on(io.StringIO())
    monkeypatch.setenv("NO_COLOR", "1")
    assert "\033[31m" not in finished_on(Terminal())


def finished_on(stream: io.StringIO) -> str:
    reporter = ConsoleReporter(1, stream)
    reporter.scenario_started("b", "b.yaml")
    reporter.scenario_finished(result("b", "failed"))
    return stream.getvalue()


def test_the_summary_ends_with_the_counts_in_words() -> None:
    assert summary_table([result("a"), result("b", "failed")]).endswith("\n1 of 2 scenarios failed, 1 passed")

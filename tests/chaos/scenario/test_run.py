"""Running scenarios for real: live orchestrators, faults, the CLI, the reports."""

from __future__ import annotations

import json
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import anyio
import pytest

from chaos.engine import RunOptions, run_scenario
from chaos.host.ownership import processes_under
from chaos.scenario import load_scenario

from .support import cli, marker_fault

TOUR = """\
name: engine-tour
description: every kind of step once, against a live orchestrator
covers: {guide: [checklist.health-check], error_codes: [RESTART_002]}
tags: [tour]
steps:
  - inject: test_marker
    params: {label: early}
    as: early
  - start: {clients: 2, tasks: 1}
    save: {url: url, first: tasks.0}
  - shell: |
      test -f .chaos/marker-early && echo "url=$ORCH_URL base=$ORCH_BASE_DIR"
    expect:
      stdout: {contains: "url=${saved.url}"}
  - heal: early
  - load: {clients: 2, rate: 10}
    as: bg
  - call: orchestrator_health_check
    client: 1
    covers: [checklist.health-check]
    expect: {healthy: true}
    save: {worker: worker_pid}
  - kill_worker: SIGKILL
    expect: {pid: "${saved.worker}"}
  - wait: orchestrator_health_check
    until:
      worker_pid: {not_equals: "${saved.worker}", exists: true}
      healthy: true
    interval: 0.2
    timeout: 60
  - sleep: 0.3
    why: the load keeps calling across the worker's replacement
  - stop_load: bg
    expect: {calls: {range: {min: 2}}, unanswered: 0, failed: 0}
  - parallel:
      slow:
        - restart: {}
      quick:
        - wait: orchestrator_restart_status
          until: {current_status.maintenance_mode: true}
          interval: 0.05
        - restart: {}
          error_code: RESTART_002
  - expect_invariants: [nothing_lost_or_twice, maintenance_off, snapshot_valid]
  - stop: SIGTERM
  - start: {transport: stdio}
  - call: orchestrator_query_tasks
    args: {parent_id: "${saved.first}"}
    expect: {total: 2}
"""


@pytest.mark.live
def test_every_kind_of_step_against_a_live_orchestrator(tmp_path: Path) -> None:
    with marker_fault() as fault:
        loaded = load_scenario(tmp_path / "tour.yaml", TOUR)
        assert loaded.ok, loaded.problems
        result = anyio.run(run_scenario, loaded, RunOptions(workdir=tmp_path / "runs"))
        assert result.outcome == "passed", result.report()
        assert not fault.alive
    journal = result.journal
    assert [s["outcome"] for s in journal["steps"]] == ["passed"] * len(journal["steps"])
    assert {s["kind"] for s in journal["steps"]} >= {"inject", "start", "shell", "heal", "load", "call", "kill_worker", "wait", "sleep", "stop_load", "parallel", "restart", "expect_invariants", "stop"}
    (marker,) = journal["faults"]
    assert marker["as"] == "early" and marker["real"] and marker["healed_s"] >= marker["injected_s"]
    killed = next(s for s in journal["steps"] if s["kind"] == "kill_worker")["result"]["pid"]
    assert killed not in {c["response"].get("worker_pid") for c in journal["calls"][-8:] if c["response"]}
    load_calls = [c for c in journal["calls"] if c["client"].startswith("load:bg/")]
    assert len(load_calls) >= 2 and {c["outcome"] for c in load_calls} == {"ok"}
    assert [r["error_code"] for r in journal["restarts"]] == [None]  # the refused one has no phases
    assert {v["name"]: v["ok"] for v in journal["invariants"]}["nothing_lost_or_twice"] is True
    assert result.kept_dir is None and not list((tmp_path / "runs").iterdir())


FAILING = """\
name: {name}
description: a story whose expectations are wrong
covers: {{}}
steps:
  - inject: test_marker
    params: {{label: never-healed-by-the-story}}
  - start: {{}}
  - call: orchestrator_restart_status
    expect:
      current_status.phase: idle
      current_status.maintenance_mode: true
  - call: orchestrator_health_check
finally:
  - call: orchestrator_health_check
    expect: {{healthy: true}}
"""
PASSING = """\
name: {name}
description: a short healthy story
covers: {{}}
steps:
  - start: {{}}
  - call: orchestrator_health_check
    expect: {{healthy: true}}
"""


@pytest.mark.live
def test_cli_runs_in_parallel_and_reports_a_failure_where_it_was_written(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "good.yaml").write_text(PASSING.format(name="good"))
    (tmp_path / "bad.yaml").write_text(FAILING.format(name="bad"))
    report = tmp_path / "report"
    with marker_fault() as fault:
        status = cli(["run", str(tmp_path), "--jobs", "2", "--report", str(report), "--workdir", str(tmp_path / "runs")])
        assert not fault.alive  # healed although the story failed and never healed it
    out = capsys.readouterr().out
    assert status == 1, out
    bad = str(tmp_path / "bad.yaml")
    assert f"{bad}:11: steps[2] call: expectation not met" in out
    assert f"{bad}:11: current_status.maintenance_mode\n          expected: true\n          actual:   false" in out
    assert f"reproduce: {sys.executable} -m chaos run {bad}" in out
    assert "[2/2]" in out and " PASSED " in out and " FAILED " in out
    kept = next(line.split("files kept in ")[1].split(" ")[0] for line in out.splitlines() if "files kept in" in line)
    assert processes_under(Path(kept)) == []

    cases = {case.get("name"): case for case in ET.parse(report / "junit.xml").getroot().iter("testcase")}
    assert sorted(cases) == ["bad", "good"]
    failure = cases["bad"].find("failure")
    assert failure is not None and failure.get("message").startswith(f"{bad}:11:") and cases["good"].find("failure") is None

    journal = json.loads((report / "journal.json").read_text())
    by_name = {s["name"]: s for s in journal["scenarios"]}
    steps = by_name["bad"]["steps"]
    assert [(s["loc"], s["outcome"]) for s in steps] == [("steps[0]", "passed"), ("steps[1]", "passed"), ("steps[2]", "failed"), ("finally[0]", "passed")]
    assert {c["outcome"] for c in by_name["bad"]["calls"]} == {"ok"} and by_name["bad"]["faults"][0]["healed_s"] is not None
    assert all(c["completed_s"] >= c["invoked_s"] for c in by_name["good"]["calls"])

    html = (report / "report.html").read_text()
    assert "<svg" in html and "Coverage of the guide" in html and f"{sys.executable} -m chaos run {bad}" in html
    assert "http://" not in html.replace("http://127.0.0.1", "") and "<script" not in html  # self-contained


def test_a_scenario_that_runs_out_of_time_fails_at_the_step_it_was_on(tmp_path: Path) -> None:
    text = "name: slow\ndescription: d\ncovers: {}\ntimeout: 0.5\nsteps:\n  - sleep: 30\n    why: never ends in time\n"
    result = anyio.run(run_scenario, load_scenario(tmp_path / "slow.yaml", text), RunOptions(workdir=tmp_path))
    assert result.outcome == "failed"
    assert "slow.yaml:6: steps[0]: scenario timeout of 0.5s ran out during this step" in result.report()
    assert {v["name"]: v["ok"] for v in result.journal["invariants"]}["nothing_lost_or_twice"] is None


def test_a_failing_shell_step_shows_its_output_and_kills_what_it_left(tmp_path: Path) -> None:
    text = (
        "name: shell\ndescription: d\ncovers: {}\nsteps:\n"
        "  - shell: sleep 60 &\n  - shell: echo nope >&2; exit 3\n"
    )
    result = anyio.run(run_scenario, load_scenario(tmp_path / "shell.yaml", text), RunOptions(workdir=tmp_path))
    assert result.outcome == "failed"
    assert "shell.yaml:6: steps[1] shell: exit status 3, expected 0: nope" in result.report()
    assert processes_under(tmp_path) == []

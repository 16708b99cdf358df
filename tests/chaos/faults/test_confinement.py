"""Confinement without root, and what a fault that is not real looks like to the person running it."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import anyio
import pytest

from chaos.engine import RunOptions, run_scenario
from chaos.engine.failure import ScenarioResult
from chaos.host.namespace import NEEDS, Confinement, user_namespace_refusal
from chaos.report.console import QUIET, ConsoleReporter
from chaos.report.journal import StepRecord
from chaos.scenario import load_paths
from chaos.target.live import target as live_target
from orchestrator.config import Paths

CATALOGUE = Path(__file__).resolve().parents[3] / "scenarios"


def test_a_kernel_that_refuses_user_namespaces_is_named_with_what_it_needs():
    assert user_namespace_refusal(("true",)) is None  # this kernel allows them
    refusal = user_namespace_refusal(("false",))  # the same command, failing as a refusing kernel makes it fail
    assert refusal is not None and "exit status 1" in refusal and NEEDS in refusal


def test_without_root_a_confined_orchestrator_gets_its_tmpfs_mounts_in_a_user_namespace(monkeypatch):
    """The command a non-root harness builds, run as user nobody: the mounts are made, DAC override is gone."""
    if shutil.which("runuser") is None:
        pytest.skip("needs runuser to act as another user")
    monkeypatch.setattr("chaos.host.namespace.privileged", lambda: False)
    root = Path(tempfile.mkdtemp(prefix="chaos-unprivileged-", dir="/tmp"))
    try:
        root.chmod(0o777)
        paths = Paths(root / "base")
        command = Confinement().command(paths, root / "logs", ["sh", "-c", "grep -c chaos- /proc/self/mountinfo; grep CapEff /proc/self/status"])
        for directory in (paths.root.parent, paths.root, root / "logs"):
            directory.chmod(0o777)
        seen = subprocess.run(["runuser", "-u", "nobody", "--", *command], capture_output=True, text=True, timeout=30)
    finally:
        shutil.rmtree(root)
    assert seen.returncode == 0, seen.stderr
    mounts, capabilities = seen.stdout.split("\n")[:2]
    assert int(mounts) >= 2
    assert not int(capabilities.split()[1], 16) >> 1 & 1  # CAP_DAC_OVERRIDE dropped


def test_a_confined_scenario_the_kernel_will_not_confine_is_skipped_with_the_reason(monkeypatch, tmp_path):
    (loaded,) = [item for item in load_paths([str(CATALOGUE)])[0] if item.scenario.name == "database-disk-full"]
    monkeypatch.setattr(live_target, "confinement_blocker", lambda: "the kernel refuses (simulated)")
    result = anyio.run(run_scenario, loaded, RunOptions(workdir=tmp_path))
    assert result.outcome == "skipped"
    assert result.journal["notes"][0]["text"] == "not run in live mode: steps[0]: the kernel refuses (simulated)"
    assert result.journal["steps"] == []


def test_a_fault_that_falls_back_says_fallback_on_the_console_even_when_quiet(capsys):
    console = ConsoleReporter(1, verbosity=QUIET)
    console.scenario_started("s", "s.yaml")
    record = StepRecord("steps[3]", "inject", "inject disk_full", 9, 0.0, 0.1, "passed", result={"real": False, "fallback_reason": "not confined"})
    console.step_finished("s", record)
    console.step_finished("s", StepRecord("steps[4]", "inject", "inject corrupt_state", 10, 0.0, 0.1, "passed", result={"real": True}))
    console.scenario_finished(ScenarioResult("s", "s.yaml", "passed", 0.1, [], {}))
    assert capsys.readouterr().out == "[1/1] PASSED s  0.1s\n    FALLBACK steps[3]     inject disk_full: not confined\n"

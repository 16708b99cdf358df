"""The fault registry, parameter validation and the `python -m chaos faults` listing."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from chaos import faults
from chaos.cli import main
from chaos.guide.catalogue import BY_ID

DOCUMENTED = {
    "disk_full": "RESTART_005", "read_only": "RESTART_005", "permission_denied": "RESTART_005",
    "db_lock": "RESTART_008", "db_corruption": "RESTART_008", "hung_task": "RESTART_004", "slow_io": "RESTART_004",
    "restart_in_progress": "RESTART_002", "replacement_fails": "RESTART_006", "request_flood": "RESTART_007",
    "corrupt_state": None, "dropped_client": None, "worker_crash": None, "stale_lock": None,
}  # fmt: skip


def test_every_documented_failure_is_a_fault_with_its_error_code_and_guide_sections():
    catalogue = {entry["name"]: entry for entry in faults.catalogue()}
    assert set(catalogue) == set(DOCUMENTED)
    for name, code in DOCUMENTED.items():
        entry = catalogue[name]
        assert code is None or code in entry["expected_error_codes"], entry
        assert entry["guide_sections"] and all(section in BY_ID for section in entry["guide_sections"]), entry
        assert entry["mechanism"] and entry["summary"], entry


def test_an_unknown_name_lists_the_known_ones():
    with pytest.raises(faults.FaultError, match="unknown fault 'disk_fill'; known faults: corrupt_state, db_corruption"):
        faults.create("disk_fill")


@pytest.mark.parametrize(
    ("name", "params", "message"),
    [
        ("disk_full", {"target": "swap"}, "target: Input should be 'state_dir', 'database' or 'both'"),
        ("db_lock", {"hold_s": -1}, "hold_s: Input should be greater than 0"),
        ("db_lock", {"hold": 5}, "hold: Extra inputs are not permitted (parameters: hold_s, at_phase)"),
        ("request_flood", {}, "requests: Field required"),
        ("worker_crash", {"which": "replacement"}, "which=replacement needs at_phase"),
        ("hung_task", {"how": "sigstop", "ignore_suspend_s": 3}, "ignore_suspend_s applies to how=ignore_suspend only"),
        ("corrupt_state", {"backups": -2}, "backups"),
        ("slow_io", {"seconds": "slow"}, "seconds: Input should be a valid number"),
    ],
)
def test_bad_parameters_are_refused_with_a_clear_message(name, params, message):
    with pytest.raises(faults.FaultError) as refused:
        faults.create(name, **params)
    assert message in str(refused.value) and f"fault {name!r}" in str(refused.value)


def test_the_cli_lists_every_fault_with_parameters_guide_sections_and_error_codes(capsys):
    assert main(["faults"]) == 0
    text = capsys.readouterr().out
    for entry in faults.catalogue():
        assert f"{entry['name']}: {entry['summary']}" in text
    assert "    target: state_dir|database|both (default \"state_dir\")" in text
    assert "    issue-5.cause-1  Database locks during shutdown" in text
    assert "expected error codes: RESTART_003, RESTART_008" in text

    assert main(["faults", "--json", "slow_io"]) == 0
    [slow] = json.loads(capsys.readouterr().out)
    assert slow["fallback"] is None and slow["parameters"]["seconds"]["default"] == 12.0
    assert main(["faults", "no_such_fault"]) == 2
    assert "unknown fault(s) no_such_fault" in capsys.readouterr().err


def test_python_dash_m_chaos_runs_the_cli():
    listed = subprocess.run([sys.executable, "-m", "chaos", "faults", "stale_lock"], capture_output=True, text=True)
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.startswith("stale_lock: ")

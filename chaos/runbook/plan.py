"""Incident and runbook as one scenario: what the runner runs, written out so a failure names its line.

The incident's `steps` (its set-up and faults) come first, as written. Then each runnable block of
the runbook as a step: a shell block as a `shell` step (its output is stdout and stderr together),
a python block through chaos.runbook.snippet, and a block that only starts the server
(`python -m mcp_task_orchestrator.server ...`) as a `start` step, so the run keeps its own server.
After every block, a probe checks that the block destroyed nothing (chaos.runbook.probe). Then
recovery is verified: the health check is healthy, maintenance mode is off, and the incident's
`finally` steps, which hold what the incident expects once it is recovered. The end-of-run
checks (nothing acknowledged lost or applied twice, snapshot and database integrity, phase
settled) are switched on whatever the incident said.
"""

from __future__ import annotations

import os
import re
import shlex
import sys
from pathlib import Path
from typing import Any

import yaml

from chaos.runbook.markdown import Block, RunbookError
from chaos.scenario import Loaded

SERVER_START = re.compile(r"^\s*python3?\s+-m\s+mcp_task_orchestrator\.server\b(?P<args>.*)$")
RECOVERY_INVARIANTS = ("nothing_lost_or_twice", "snapshot_valid", "database_integrity", "maintenance_off", "phase_settled")


def block_step_name(block: Block, runbook: str) -> str:
    return f"runbook block {block.number} ({runbook}:{block.line}): {block.title()}"


def scenario(incident: Loaded, blocks: list[Block], runbook: str, files: Path) -> dict[str, Any]:
    """The combined scenario as data; `files` is where block files and the pkill shim are written."""
    data = incident.source.data
    steps = [_absolute_fixture(step, incident.path.parent) for step in data["steps"]]
    steps.append({"name": "before the runbook: what the database holds", "shell": _probe()})
    shim = _pkill_shim(files)
    for block in (b for b in blocks if b.runs):
        steps.append(_block_step(block, runbook, files, shim))
        steps.append({"name": f"after block {block.number}: nothing destroyed", "shell": _probe()})
    steps += [
        {"name": "recovery: the health check is healthy", "call": "orchestrator_health_check", "expect": {"healthy": True}},
        {"name": "recovery: maintenance mode is off", "call": "orchestrator_restart_status", "expect": {"current_status.maintenance_mode": False}},
    ]
    steps += [_named(step, "recovery (the incident's expected outcome)") for step in data.get("finally", [])]
    invariants = data.get("invariants", True)
    switches = dict(invariants) if isinstance(invariants, dict) else dict.fromkeys(RECOVERY_INVARIANTS, invariants)
    switches.update(dict.fromkeys(RECOVERY_INVARIANTS, True))
    return {
        "name": f"runbook-{data['name']}"[:80],
        "description": f"{runbook} run against the incident {data['name']} ({incident.path.name}), then recovery verified.",
        "tags": ["runbook"],
        "timeout": max(float(data.get("timeout", 300)), 60.0 * (len(blocks) + 2)),
        "invariants": switches,
        "steps": steps,
    }


def write(plan: dict[str, Any], path: Path) -> None:
    path.write_text(yaml.safe_dump(plan, sort_keys=False, width=120, allow_unicode=True))


def _block_step(block: Block, runbook: str, files: Path, shim: Path) -> dict[str, Any]:
    name = block_step_name(block, runbook)
    if block.language == "bash":
        start = _server_start(block, runbook)
        if start is not None:
            return {"name": name, "start": start}
        script = files / f"block-{block.number:02d}.sh"
        script.write_text(block.code)
        command = f"/bin/sh {shlex.quote(str(script))} 2>&1"
    else:
        script = files / f"block-{block.number:02d}.py"
        script.write_text(block.code)
        command = f"python -m chaos.runbook.snippet {shlex.quote(str(script))} 2>&1"
    step: dict[str, Any] = {
        "name": name,
        "shell": command,
        "expect_exit": block.expect_exit,
        "timeout": block.timeout_s,
        "env": {"PATH": f"{shim}:{Path(sys.executable).parent}:{os.environ.get('PATH', os.defpath)}"},
    }
    conditions = [{"contains": text} for text in block.contains] + [{"regex": f"(?m){regex}"} for regex in block.matches]
    if conditions:
        step["expect"] = {"stdout": conditions[0]} if len(conditions) == 1 else {"stdout": {"regex": _all_of(block)}}
    return step


def _all_of(block: Block) -> str:
    """Several output expectations as one regex (lookaheads: each must match somewhere)."""
    parts = [re.escape(text) for text in block.contains] + block.matches
    return "(?ms)" + "".join(f"(?=.*?{part})" for part in parts)


def _server_start(block: Block, runbook: str) -> dict[str, Any] | None:
    commands = [line for line in block.code.splitlines() if line.strip() and not line.strip().startswith("#")]
    starts = [SERVER_START.match(line) for line in commands]
    if not any(starts):
        return None
    if len(commands) > 1:
        raise RunbookError(f"{runbook}:{block.line}: put `python -m mcp_task_orchestrator.server` in a block of its own: the run starts it as its own server")
    arguments = shlex.split(starts[0]["args"]) if starts[0] else []
    if any(arg.startswith("--base-dir") or arg.startswith("--http") for arg in arguments):
        raise RunbookError(f"{runbook}:{block.line}: the run chooses --base-dir and --http itself; drop them from the block")
    return {"args": arguments} if arguments else {}


def _pkill_shim(files: Path) -> Path:
    shim = files / "bin"
    shim.mkdir(exist_ok=True)
    script = shim / "pkill"
    script.write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} -m chaos.runbook.pkill "$@"\n')
    script.chmod(0o755)
    return shim


def _probe() -> str:
    return "python -m chaos.runbook.probe"


def _absolute_fixture(step: Any, directory: Path) -> Any:
    """The incident's fixture is named relative to its file; the plan lives elsewhere."""
    if isinstance(step, dict) and isinstance(step.get("start"), dict) and "fixture" in step["start"]:
        return {**step, "start": {**step["start"], "fixture": str((directory / step["start"]["fixture"]).resolve())}}
    return step


def _named(step: Any, prefix: str) -> Any:
    if isinstance(step, dict):
        return {**step, "name": f"{prefix}: {step.get('name') or next(iter(step))}"}
    return step

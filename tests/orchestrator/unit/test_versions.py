"""Every command a user runs says its version (what to quote in a bug report)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from orchestrator import __version__


@pytest.mark.parametrize(
    "module", ["mcp_task_orchestrator.server", "mcp_task_orchestrator.worker", "orchestrator", "chaos"]
)
def test_version(module: str) -> None:
    done = subprocess.run([sys.executable, "-m", module, "--version"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.strip() == f"python -m {module} {__version__}", done

"""Listing the orchestrator's tools leaves the asking process's logging as it was.

The SDK's MCPServer() configures the root logger (INFO, to stderr) when it has no handler; the
harness lists tools to validate scenarios and builds simulated workers, and then printed a line
for every HTTP request it made.
"""

from __future__ import annotations

import subprocess
import sys

PROBE = """
import logging
from chaos.scenario.tools import catalogue
from orchestrator.worker import worker_app
assert catalogue() and worker_app(standalone=False)
root = logging.getLogger()
print(logging.getLevelName(root.level), len(root.handlers))
"""


def test_tool_lists_and_worker_apps_do_not_configure_the_callers_logging():
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, timeout=60)
    assert done.stdout.split() == ["WARNING", "0"], done.stdout + done.stderr

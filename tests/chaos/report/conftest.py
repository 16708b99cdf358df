"""A failing run's reports, made once in sim mode (milliseconds): one scenario passes, one expects what is not so."""

from __future__ import annotations

from pathlib import Path

import pytest

from chaos.cli import main

PASSES = """\
name: a-passes
description: a healthy server answers its health check
covers: {}
steps:
  - start: {clients: 1, tasks: 1}
  - call: orchestrator_health_check
    expect: {healthy: true}
"""

FAILS = """\
name: b-fails
description: expects a healthy server to say it is unhealthy, after a restart under a slow disk (a FALLBACK in sim mode)
covers: {}
steps:
  - start: {clients: 1, tasks: 1}
  - inject: slow_io
    params: {seconds: 1}
  - restart: {}
  - call: orchestrator_health_check
    name: the server says it is unhealthy
    expect: {healthy: false}
"""
SEED = 3


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "browser: renders a report in headless Chromium (the Debian package scripts/setup.sh installs)")


@pytest.fixture(scope="session")
def failing_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The report directory of `chaos run` over the two scenarios; its b-fails.yaml is beside it."""
    root = tmp_path_factory.mktemp("failing-run")
    (root / "a-passes.yaml").write_text(PASSES)
    (root / "b-fails.yaml").write_text(FAILS)
    argv = ["run", str(root), "--mode", "sim", "--seed", str(SEED), "-q", "--report", str(root / "report"), "--workdir", str(root / "work")]
    assert main(argv) == 1
    return root / "report"

"""Shared fixtures: every test gets its own base directory; live servers bind port 0."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ["chaos.pytest.fixtures"]


@pytest.fixture
def base_dir(tmp_path: Path) -> Path:
    path = tmp_path / "base"
    path.mkdir()
    return path

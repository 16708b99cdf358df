"""Chaos tests: real faults against live orchestrators, each test in its own tmp_path, on port 0."""

from __future__ import annotations

import pytest

from chaos.ownership import leftovers
from chaos.waiting import wait_until

LEFTOVER_WAIT_S = 15.0


@pytest.fixture(autouse=True)
async def nothing_left_behind():
    """After each test (its faults healed, its orchestrators stopped): no process or mount of ours."""
    yield
    await wait_until(lambda: not leftovers(), LEFTOVER_WAIT_S, "every process and mount of this run to be gone")

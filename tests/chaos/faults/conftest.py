"""Chaos tests: real faults against live orchestrators, each test in its own tmp_path, on port 0."""

from __future__ import annotations

import pytest

from chaos.host.ownership import leftovers
from chaos.waiting import wait_until

LEFTOVER_WAIT_S = 15.0


@pytest.fixture(autouse=True)
async def nothing_left_behind():
    """After each test (its faults healed, its orchestrators stopped): no process or mount of ours
    that it started. One that an earlier test leaked fails that test only, not every one after it."""
    before = set(leftovers())
    yield
    await wait_until(
        lambda: not set(leftovers()) - before, LEFTOVER_WAIT_S, "every process and mount this test started to be gone"
    )

"""The supervisor's handle on a worker: a connection that has just closed is a worker gone."""

from __future__ import annotations

import pytest

from orchestrator.config import Paths
from orchestrator.supervisor.worker_process import WorkerGone, WorkerHandle


class JustClosedClient:
    """An SDK client whose context has exited a moment ago: it no longer has a session."""

    @property
    def session(self):
        raise RuntimeError("Client must be used within an async context manager")


async def test_a_call_on_a_connection_that_just_closed_is_worker_gone_so_it_is_replayed(tmp_path):
    handle = WorkerHandle(Paths(tmp_path), generation=3)
    handle._client = JustClosedClient()  # the race: the handle still holds the client as it closes
    with pytest.raises(WorkerGone, match="worker generation 3"):
        await handle.call_tool("orchestrator_get_status", {}, 1.0)

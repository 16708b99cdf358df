"""orchestrator_reconnect_test bounds the whole test, not only each probe: a probe that never ends
makes `test_completed` false and its session a failure, the probes that did answer still reported."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import anyio
import pytest
from trio.testing import MockClock

from orchestrator.supervisor import reboot_tools
from orchestrator.supervisor.reboot_tools import ReconnectTestArgs, RebootTools
from orchestrator.supervisor.sessions import OPERATOR, PING_TIMEOUT_S


class Sessions:
    """The registry's answers the test reads, for two sessions."""

    def __init__(self) -> None:
        self.records = [SimpleNamespace(session_id=name, transport="http") for name in ("answers", "never-answers")]

    def all(self) -> list[Any]:
        return self.records

    def shown(self, entry: dict[str, Any], caller: Any) -> dict[str, Any]:
        return entry

    def reconnection_stats(self) -> dict[str, Any]:
        return {}


def reconnect_test() -> tuple[dict[str, Any], float]:
    async def probe(registry: Any, record: Any) -> dict[str, Any]:
        if record.session_id == "never-answers":
            await anyio.sleep_forever()  # as a probe whose own bound failed would
        return {"session_id": record.session_id, "status": "pass"}

    async def run() -> tuple[dict[str, Any], float]:
        runtime = SimpleNamespace(sessions=Sessions(), buffer=SimpleNamespace(status=dict))
        tools = RebootTools(runtime, coordinator=None)  # type: ignore[arg-type]
        started = anyio.current_time()
        answer = await tools.reconnect_test(ReconnectTestArgs(), OPERATOR)
        return answer, anyio.current_time() - started

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(reboot_tools, "probe", probe)
        return anyio.run(run, backend="trio", backend_options={"clock": MockClock(autojump_threshold=0)})


def test_a_probe_that_never_ends_leaves_the_test_incomplete_within_its_bound():
    answer, took = reconnect_test()
    assert answer["test_completed"] is False
    answered, unfinished = answer["results"]["all_sessions"]
    assert (answered["session_id"], answered["status"]) == ("answers", "pass")
    assert (unfinished["session_id"], unfinished["status"], unfinished["reachable"]) == ("never-answers", "fail", False)
    assert unfinished["reason"] == f"the probe did not end within the test's {PING_TIMEOUT_S * 2:g}s"
    assert answer["overall_status"] == "partial"
    assert took == pytest.approx(PING_TIMEOUT_S * 2)

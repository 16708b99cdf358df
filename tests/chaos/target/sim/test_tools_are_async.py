"""Every worker tool is a coroutine function: the exactness of sim mode depends on it.

The SDK runs a sync tool function in a worker thread. Under the simulator's virtual clock the
event loop then looks idle while the thread works, so virtual time races ahead by however long
the thread takes in real time: the journal would depend on the machine, and replay would break.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import anyio

from orchestrator.control_tools import register_control_tools
from orchestrator.task_tools import register_task_tools
from orchestrator.worker import register_standalone_restart, worker_app


class ToolRecorder:
    """Stands in for MCPServer in one place only: it keeps each function a registration hands over."""

    def __init__(self) -> None:
        self.functions: dict[str, Callable[..., Any]] = {}

    def tool(self, name: str | None = None, **_: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        def register(function: Callable[..., Any]) -> Callable[..., Any]:
            self.functions[name or function.__name__] = function
            return function

        return register


def test_every_tool_a_worker_serves_is_a_coroutine_function() -> None:
    recorder = ToolRecorder()
    register_task_tools(recorder, lambda: None)  # type: ignore[arg-type]
    register_control_tools(recorder, lambda: None)  # type: ignore[arg-type]
    register_standalone_restart(recorder)  # type: ignore[arg-type]

    async def served_names() -> set[str]:
        return {tool.name for standalone in (False, True) for tool in await worker_app(standalone).list_tools()}

    assert set(recorder.functions) == anyio.run(served_names), "the recorder saw every tool the worker serves"
    sync = sorted(name for name, function in recorder.functions.items() if not inspect.iscoroutinefunction(function))
    assert sync == [], f"sync tools run in a thread, which the virtual clock cannot see: {sync}"

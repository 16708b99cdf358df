"""The orchestrator's tools as a client sees them: names and argument names, for `validate`.

Taken from the code, not written down again: the task tools as the supervisor lists them (from
their registration), and the supervisor's reboot tools from their argument models. A misspelled tool or argument is then a `validate`
error with a did-you-mean, instead of a step that fails (or, before, passed) at run time.
"""

from __future__ import annotations

import difflib
import functools
from concurrent.futures import ThreadPoolExecutor

import anyio

from orchestrator.supervisor.reboot_tools import MODELS
from orchestrator.task_tools import task_tool_list


@functools.cache
def catalogue() -> dict[str, frozenset[str]]:
    """tool name -> the names of its arguments."""
    with ThreadPoolExecutor(1) as pool:  # the list is async; validate may run inside an event loop
        listed = pool.submit(anyio.run, task_tool_list).result()
    tools = {t.name: frozenset(t.input_schema.get("properties", {})) for t in listed}
    for name, model in MODELS.items():
        tools[name] = frozenset(field.alias or key for key, field in model.model_fields.items())
    return tools


def _hint(name: str, known: frozenset[str] | list[str]) -> str:
    close = difflib.get_close_matches(name, sorted(known), n=1)
    return f"did you mean {close[0]!r}? " if close else ""


def unknown_tool(name: str) -> str | None:
    """What is wrong with calling `name`, or None if the orchestrator has such a tool."""
    tools = catalogue()
    if name in tools:
        return None
    return f"the orchestrator has no tool {name!r}; {_hint(name, list(tools))}tools: {', '.join(sorted(tools))}"


def unknown_arguments(tool: str, arguments: dict[str, object]) -> dict[str, str]:
    """Argument name -> what is wrong, for each argument `tool` does not take (none for an unknown
    tool: that is reported once, on the tool)."""
    allowed = catalogue().get(tool)
    if allowed is None:
        return {}
    return {
        name: f"{tool} takes no argument {name!r}; {_hint(name, allowed)}it takes: {', '.join(sorted(allowed)) or 'none'}"
        for name in arguments
        if name not in allowed
    }

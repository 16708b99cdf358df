"""The orchestrator's tools as a client sees them: names and argument names, for `validate`.

Taken from the code, not written down again: the task tools as the supervisor lists them (from
their registration), and the supervisor's reboot tools from their argument models. A misspelled
tool or argument is then a `validate` error with a did-you-mean, instead of a step that fails
(or, before, passed) at run time. Building the list imports the orchestrator and the SDK (about
2 s), so `validate` reads it from tool_catalogue.json beside this file:
`python -m chaos.scenario.tools` rewrites it, `--check` says whether it is current (a test runs
the same check).
"""

from __future__ import annotations

import difflib
import functools
import json
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from chaos.scenario import generated

CATALOGUE_PATH = Path(__file__).with_name("tool_catalogue.json")


def build() -> dict[str, list[str]]:
    """tool name -> the names of its arguments, from the orchestrator's code."""
    import anyio

    from orchestrator.supervisor.reboot_tools import MODELS
    from orchestrator.task_tools import task_tool_list

    with ThreadPoolExecutor(1) as pool:  # the list is async; this may run inside an event loop
        listed = pool.submit(anyio.run, task_tool_list).result()
    tools = {t.name: sorted(t.input_schema.get("properties", {})) for t in listed}
    for name, model in MODELS.items():
        tools[name] = sorted(field.alias or key for key, field in model.model_fields.items())
    return dict(sorted(tools.items()))


def render() -> str:
    return json.dumps(build(), indent=2) + "\n"


@functools.cache
def catalogue() -> dict[str, frozenset[str]]:
    """tool name -> the names of its arguments, as tool_catalogue.json holds them."""
    return {name: frozenset(arguments) for name, arguments in json.loads(CATALOGUE_PATH.read_text()).items()}


def main(argv: list[str] | None = None) -> int:
    return generated.main("python -m chaos.scenario.tools", __doc__, CATALOGUE_PATH, render, argv)


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


if __name__ == "__main__":
    sys.exit(main())

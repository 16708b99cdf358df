"""Strict tool arguments, checked before any tool runs: no unknown names, no NaN or Infinity.

The task tools' own models ignore names they do not know (`search:` for `text:` was silently
dropped), and a NaN reached the worker as null after the supervisor re-encoded the call, so the
refusal said "got None". Both are caught here, on the arguments exactly as the client sent them,
with a message that says what to send instead. Nothing runs and nothing changes.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Mapping
from typing import Any

from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_PARAMS

ECHO_LIMIT = 80  # characters of a client's input repeated in an error message


def echo(value: Any) -> str:
    """`repr(value)`, cut short like pydantic does, so an error never repeats a huge input."""
    text = repr(value)
    if len(text) <= ECHO_LIMIT:
        return text
    return f"{text[: ECHO_LIMIT - 30]}...{text[-20:]} ({len(text)} characters)"


def non_finite(value: Any, path: str) -> str | None:
    """The path of the first NaN or Infinity inside `value`, if any."""
    if isinstance(value, float) and not math.isfinite(value):
        return path
    if isinstance(value, Mapping):
        items: Any = ((f"{path}.{key}", item) for key, item in value.items())
    elif isinstance(value, list):
        items = ((f"{path}[{index}]", item) for index, item in enumerate(value))
    else:
        return None
    for where, item in items:
        found = non_finite(item, where)
        if found is not None:
            return found
    return None


# Names clients reach for that spelling alone would not suggest.
SYNONYMS = {"search": "text", "query": "text", "q": "text", "id": "task_id", "name": "title", "page_size": "limit"}


def unknown_argument_message(name: str, known: list[str]) -> str:
    close = [SYNONYMS[name]] if SYNONYMS.get(name) in known else difflib.get_close_matches(name, known, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return f"no argument {echo(name)}; {hint}the arguments are: {', '.join(known) or 'none'}"


def argument_problem(tool: str, arguments: Mapping[str, Any], schema: Mapping[str, Any] | None) -> str | None:
    """What is wrong with a call's arguments before any model sees them, or None."""
    for name, value in arguments.items():
        where = non_finite(value, str(name))
        if where is not None:
            return f"{where} is not a finite number (NaN and Infinity are not JSON numbers); send a finite number"
    if schema is not None:
        known = sorted(schema.get("properties") or {})
        for name in arguments:
            if name not in known:
                return unknown_argument_message(name, known)
    return None


class StrictArguments:
    """Server middleware refusing a `tools/call` whose arguments are not exactly what the tool takes."""

    def __init__(self, schema_of: Callable[[str], Mapping[str, Any] | None]) -> None:
        self.schema_of = schema_of

    async def __call__(self, ctx: Any, call_next: Any) -> Any:
        if ctx.method == "tools/call" and isinstance(ctx.params, Mapping):
            tool, arguments = ctx.params.get("name"), ctx.params.get("arguments")
            if isinstance(tool, str) and isinstance(arguments, Mapping):
                problem = argument_problem(tool, arguments, self.schema_of(tool))
                if problem is not None:
                    raise MCPError(INVALID_PARAMS, f"invalid arguments for {tool}: {problem}. Nothing was changed.")
        return await call_next(ctx)

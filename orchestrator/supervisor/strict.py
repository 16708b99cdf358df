"""Strict tool arguments, checked before any tool runs: no unknown names, no NaN or Infinity.

The task tools' own models ignore names they do not know (`search:` for `text:` was silently
dropped), and a NaN reached the worker as null after the supervisor re-encoded the call, so the
refusal said "got None"; a value nested a few hundred levels deep could not be forwarded to the
worker at all, and its call hung until the call timeout; and the task tools' models took 0 for
false, true for 1 and "5" for 5 (so `priority: true` changed a task). All are caught here, on the arguments exactly as the client sent them,
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
MAX_NESTING = 32  # levels of lists and objects in one argument, as in a state file


def cut(text: str) -> str:
    """`text` cut short like pydantic does, so an error never repeats a huge input."""
    if len(text) <= ECHO_LIMIT:
        return text
    return f"{text[: ECHO_LIMIT - 30]}...{text[-20:]} ({len(text)} characters)"


def echo(value: Any) -> str:
    return cut(repr(value))


def value_problem(value: Any, path: str, depth: int = 0) -> str | None:
    """What about `value` cannot be taken: a NaN or an Infinity, or nesting past MAX_NESTING."""
    if isinstance(value, float) and not math.isfinite(value):
        return f"{cut(path)} is not a finite number (NaN and Infinity are not JSON numbers); send a finite number"
    if isinstance(value, Mapping):
        items: Any = ((f"{path}.{key}", item) for key, item in value.items())
    elif isinstance(value, list):
        items = ((f"{path}[{index}]", item) for index, item in enumerate(value))
    else:
        return None
    if depth == MAX_NESTING:
        return f"{cut(path)} nests lists and objects deeper than {MAX_NESTING} levels; send flatter data"
    for where, item in items:
        found = value_problem(item, where, depth + 1)
        if found is not None:
            return found
    return None


JSON_TYPES = {bool: "boolean", int: "integer", float: "number", str: "string", type(None): "null",
              list: "array", dict: "object"}  # fmt: skip


def _branches(schema: Mapping[str, Any], defs: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    if "$ref" in schema:
        schema = defs.get(str(schema["$ref"]).rsplit("/", 1)[-1], {})
    if "anyOf" in schema:
        return [branch for option in schema["anyOf"] for branch in _branches(option, defs)]
    return [schema]


def _takes(branch: Mapping[str, Any], kind: str) -> bool:
    wanted = branch.get("type")
    return wanted is None or wanted == kind or (wanted == "number" and kind == "integer")


def type_problem(value: Any, schema: Mapping[str, Any], defs: Mapping[str, Any], path: str) -> str | None:
    """Where `value` has a JSON type the schema does not take (a model would coerce it), if anywhere."""
    kind = JSON_TYPES.get(type(value), "object" if isinstance(value, Mapping) else "array")
    branches = [branch for branch in _branches(schema, defs) if _takes(branch, kind)]
    if not branches:
        wanted = sorted({str(branch.get("type")) for branch in _branches(schema, defs)})
        return f"{cut(path)} must be {' or '.join(wanted)}, not {kind} (got {echo(value)})"
    properties, items = branches[0].get("properties", {}), branches[0].get("items")
    inner: Any = []
    if isinstance(value, Mapping):
        inner = ((f"{path}.{key}", item, properties[key]) for key, item in value.items() if key in properties)
    elif isinstance(value, list) and isinstance(items, Mapping):
        inner = ((f"{path}[{index}]", item, items) for index, item in enumerate(value))
    for where, item, item_schema in inner:
        found = type_problem(item, item_schema, defs, where)
        if found is not None:
            return found
    return None


# Names clients reach for that spelling alone would not suggest.
SYNONYMS = {"search": "text", "query": "text", "q": "text", "id": "task_id", "name": "title", "page_size": "limit"}


def unknown_argument_message(name: str, known: list[str]) -> str:
    close = [SYNONYMS[name]] if SYNONYMS.get(name) in known else difflib.get_close_matches(name, known, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return f"no argument {echo(name)}; {hint}the arguments are: {', '.join(known) or 'none'}"


def argument_problem(
    tool: str, arguments: Mapping[str, Any], schema: Mapping[str, Any] | None, typed: bool = False
) -> str | None:
    """What is wrong with a call's arguments before any model sees them, or None. `typed`: also
    JSON types, for tools whose models would coerce them (the reboot tools' models are strict)."""
    for name, value in arguments.items():
        problem = value_problem(value, str(name))
        if problem is not None:
            return problem
    if schema is not None:
        known = sorted(schema.get("properties") or {})
        for name in arguments:
            if name not in known:
                return unknown_argument_message(name, known)
        properties, defs = schema.get("properties") or {}, schema.get("$defs") or {}
        for name, value in arguments.items() if typed else ():
            problem = type_problem(value, properties[name], defs, str(name))
            if problem is not None:
                return problem
    return None


class StrictArguments:
    """Server middleware refusing a `tools/call` whose arguments are not exactly what the tool takes."""

    def __init__(
        self, schema_of: Callable[[str], Mapping[str, Any] | None], typed: Callable[[str], bool]
    ) -> None:
        self.schema_of = schema_of
        self.typed = typed

    async def __call__(self, ctx: Any, call_next: Any) -> Any:
        if ctx.method == "tools/call" and isinstance(ctx.params, Mapping):
            tool, arguments = ctx.params.get("name"), ctx.params.get("arguments")
            if isinstance(tool, str) and isinstance(arguments, Mapping):
                problem = argument_problem(tool, arguments, self.schema_of(tool), self.typed(tool))
                if problem is not None:
                    raise MCPError(INVALID_PARAMS, f"invalid arguments for {tool}: {problem}. Nothing was changed.")
        return await call_next(ctx)

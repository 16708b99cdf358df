"""Issue 17: a fuzz corpus of bad arguments for every tool the server lists, through a real client.

Each example sends one bad call (a wrong type, a number out of range, a huge string, a control
character, an unknown or missing argument, nested junk; NaN and Infinity over raw HTTP, which
the SDK cannot send) and checks that the answer is an error naming the argument in a bounded
message, that the server still serves, and that nothing changed: the database's rows, the
restart history, the worker's pid. Bad calls change nothing, so one orchestrator per module
serves every example; the strategies are built from the tool schemas the server lists.

Over stdio the corpus once found calls never answered: an argument nested past ~200 levels, which
the SDK's stdio reader cannot parse (orchestrator/supervisor/stdio_refusals.py answers them now).
"""

from __future__ import annotations

import json
import math
import sqlite3
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

import anyio
import httpx2
import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mcp.shared.exceptions import MCPError

from chaos.faults.rawhttp import RawSession
from chaos.target.client import call, until_serving
from chaos.target.live.orchestrator import HttpOrchestrator, stdio_client
from orchestrator.config import Paths
from orchestrator.supervisor.reboot_tools import MODELS
from orchestrator.supervisor.server import task_tool_list
from orchestrator.supervisor.strict import cut, echo

pytestmark = pytest.mark.live

TOOLS = sorted([*(tool.name for tool in anyio.run(task_tool_list)), *MODELS])
EXAMPLES = 12  # per tool and transport: ~400 bad calls in all, about a minute on two cores
FUZZ = settings(
    max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
MESSAGE_LIMIT = 2000  # characters: an error may list the arguments, never repeat a huge input
TEXT_FIELDS = {"title", "description", "summary", "reason", "client_name", "working_directory", "text"}
JSON_TYPES = {bool: "boolean", int: "integer", float: "number", str: "string", type(None): "null",
              list: "array", dict: "object"}  # fmt: skip


# -- the orchestrator, and what "nothing changed" compares ----------------------------------------


@dataclass
class Live:
    portal: BlockingPortal
    client: Any
    paths: Paths
    schemas: dict[str, dict[str, Any]]
    valid: dict[str, dict[str, Any]]
    url: str | None

    def call(self, tool: str, arguments: dict[str, Any]) -> Any:
        return self.portal.call(lambda: self.client.call_tool(tool, arguments, read_timeout_seconds=60))

    def state(self) -> dict[str, Any]:
        """Every row of the database, the restart history, and who serves."""
        health = self.portal.call(call, self.client, "orchestrator_health_check", {"include_database_status": False})
        connection = sqlite3.connect(f"file:{self.paths.database}?mode=ro", uri=True)
        try:
            tables = {
                table: connection.execute(f"SELECT * FROM {table} ORDER BY rowid").fetchall()
                for table in ("tasks", "jobs", "sessions", "idempotency")
            }
        finally:
            connection.close()
        history = self.paths.history_file.read_bytes() if self.paths.history_file.exists() else b""
        served = (health["worker_pid"], health["restart_count"], health["supervisor_pid"])
        return {"tables": tables, "history": history, "served": served}


async def seed(client: Any) -> dict[str, dict[str, Any]]:
    """A session, a planned task and one started subtask; a valid call of each tool on them."""
    await until_serving(client)
    await call(client, "orchestrator_initialize_session", {"client_name": "fuzz"})
    planned = await call(client, "orchestrator_plan_task", {
        "title": "fuzzed", "description": "target of bad calls",
        "subtasks": [{"title": "one", "specialist_role": "tester"}, {"title": "two", "specialist_role": "tester"}],
    })  # fmt: skip
    parent, first = planned["parent_task"]["id"], planned["subtasks"][0]["id"]
    await call(client, "orchestrator_execute_subtask", {"task_id": first})
    return {
        "orchestrator_initialize_session": {"client_name": "fuzz"},
        "orchestrator_plan_task": {"title": "t", "description": "d", "subtasks": [{"title": "s", "specialist_role": "tester"}]},
        "orchestrator_execute_subtask": {"task_id": first},
        "orchestrator_complete_subtask": {"task_id": first, "summary": "done"},
        "orchestrator_update_task": {"task_id": first},
        "orchestrator_cancel_task": {"task_id": parent},
        "orchestrator_delete_task": {"task_id": parent},
        "orchestrator_synthesize_results": {"parent_id": parent},
        "orchestrator_start_job": {"task_id": first, "job": {"kind": "builtin", "duration_s": 1}},
    }


@pytest.fixture(scope="module", params=["http", "stdio"])
def live(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    base = tmp_path_factory.mktemp(f"fuzz-{request.param}")
    with ExitStack() as stack:
        portal = stack.enter_context(start_blocking_portal())
        url = None
        if request.param == "http":
            orchestrator = HttpOrchestrator(base)
            url = portal.call(orchestrator.start)
            stack.callback(portal.call, orchestrator.stop)
            client = orchestrator.client(operator=False)
        else:
            client = stdio_client(base)
        stack.enter_context(portal.wrap_async_context_manager(client))
        valid = portal.call(seed, client)
        listed = portal.call(client.list_tools).tools
        yield Live(portal, client, Paths(base), {t.name: dict(t.input_schema) for t in listed}, valid, url)


# -- strategies: bad arguments from a tool's schema -------------------------------------------------


def resolve(schema: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    return defs[ref.rsplit("/", 1)[-1]] if ref else schema


def branches(schema: dict[str, Any], defs: dict[str, Any]) -> list[dict[str, Any]]:
    schema = resolve(schema, defs)
    if "anyOf" in schema:
        return [b for option in schema["anyOf"] for b in branches(option, defs)]
    return [schema]


def accepts(schema: dict[str, Any], defs: dict[str, Any], value: Any) -> bool:
    """Whether `value`'s JSON type is one the schema takes (an int is a number; a schema without type takes all)."""
    kind = JSON_TYPES[type(value)]
    for branch in branches(schema, defs):
        wanted = branch.get("type")
        if "enum" in branch:
            wanted = wanted or JSON_TYPES[type(branch["enum"][0])]
        if wanted is None or wanted == kind or (wanted == "number" and kind == "integer"):
            return True
    return False


def nested(depth: int) -> Any:
    value: Any = "deep"
    for level in range(depth):
        value = [value] if level % 2 else {"k": value}
    return value


scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
)  # fmt: skip
junk = st.one_of(
    scalars,
    st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=30),
    st.integers(50, 250).map(nested),  # the SDK client cannot send deeper (pydantic serialization limit)
)  # fmt: skip
hidden = st.sampled_from([*map(chr, range(0x20)), *map(chr, range(0x7F, 0xA0)), *"\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"])
odd_text = st.text(hidden.filter(lambda c: c not in "\t\n\r"), min_size=1, max_size=5)  # tabs and line breaks are fine


def huge_string(at_least: int) -> st.SearchStrategy[str]:
    return st.builds(lambda ch, n: ch * n, st.characters(codec="utf-8", exclude_categories=["Cs"]),
                     st.integers(at_least + 1, max(2 * at_least, 200_000)))  # fmt: skip


def bad_value(schema: dict[str, Any], defs: dict[str, Any], name: str) -> st.SearchStrategy[Any]:
    """Values this property must refuse: another type, past a bound, too long, off the pattern or enum."""
    options = [junk.filter(lambda v: not accepts(schema, defs, v))]
    for branch in branches(schema, defs):
        kind = branch.get("type")
        if kind in ("integer", "number"):
            if "minimum" in branch or "exclusiveMinimum" in branch:
                low = branch.get("minimum", branch.get("exclusiveMinimum"))
                options.append(st.sampled_from([low - 1, -(2**63), -(10**30)]) if kind == "integer"
                               else st.floats(max_value=low, exclude_max="minimum" in branch, allow_nan=False, allow_infinity=False))  # fmt: skip
            if "maximum" in branch:
                high = branch["maximum"]
                options.append(st.integers(high + 1, 2**80) if kind == "integer"
                               else st.floats(min_value=high, exclude_min=True, allow_nan=False, allow_infinity=False))  # fmt: skip
            if kind == "integer":
                options.append(st.floats(allow_nan=False, allow_infinity=False).filter(lambda x: x != int(x)))
        if kind == "string":
            if "maxLength" in branch:
                options.append(huge_string(branch["maxLength"]))
            if branch.get("minLength"):
                options.append(st.just(""))
            if "pattern" in branch:
                options.append(st.text(max_size=40).filter(lambda s: s.isascii() is False or len(s) != 32))
            if "enum" in branch:
                options.append(st.text(max_size=30).filter(lambda s, enum=branch["enum"]: s not in enum))
            if name in TEXT_FIELDS:
                options.append(st.builds(lambda a, bad, b: a + bad + b, st.text("abc ", max_size=5), odd_text,
                                         st.text("xyz\t\n", max_size=5)))  # fmt: skip
        if kind == "array":
            item = branch.get("items", {})
            if "maxItems" in branch:
                options.append(st.integers(branch["maxItems"] + 1, branch["maxItems"] + 50).map(lambda n: ["x"] * n))
            if branch.get("minItems"):
                options.append(st.just([]))
            if item:
                options.append(junk.filter(lambda v, item=item: not accepts(item, defs, v)).map(lambda v: [v]))
    return st.one_of(options)


@st.composite
def bad_call(draw: st.DrawFn, schema: dict[str, Any], valid: dict[str, Any]) -> tuple[dict[str, Any], tuple[str, ...]]:
    """(arguments, how the error may name the argument): a valid call with exactly one thing wrong."""
    defs = schema.get("$defs", {})
    properties = schema.get("properties", {})
    required = schema.get("required", [])
    arguments = dict(valid)
    kinds = ["unknown"] + (["missing"] if required else []) + (["bad"] if properties else [])
    kind = draw(st.sampled_from(kinds))
    if kind == "unknown":
        name = draw(st.one_of(st.from_regex(r"[a-z_]{1,20}", fullmatch=True), st.text(min_size=1, max_size=300))
                    .filter(lambda n: n not in properties))  # fmt: skip
        arguments[name] = draw(junk)
        return arguments, (echo(name), cut(name))  # in a refusal, or as where a value nests too deep
    if kind == "missing":
        name = draw(st.sampled_from(required))
        del arguments[name]
        return arguments, (name,)
    name = draw(st.sampled_from(sorted(properties)))
    arguments[name] = draw(bad_value(properties[name], defs, name))
    return arguments, (name,)


# -- the properties -------------------------------------------------------------------------------------


def error_text(live: Live, tool: str, arguments: dict[str, Any]) -> str:
    """The error a bad call is answered with: a JSON-RPC error or a tool result marked as one."""
    try:
        result = live.call(tool, arguments)
    except MCPError as exc:
        return str(exc)
    text = " ".join(getattr(block, "text", "") for block in result.content)
    assert result.is_error, f"{tool} accepted {echo(arguments)}: {text[:500]}"
    return text


def still_serving_and_unchanged(live: Live, before: dict[str, Any]) -> None:
    assert "live_jobs" in live.portal.call(call, live.client, "orchestrator_get_status")
    assert live.state() == before


def test_the_corpus_covers_every_listed_tool(live: Live) -> None:
    assert sorted(live.schemas) == TOOLS


@pytest.mark.parametrize("tool", TOOLS)
def test_bad_arguments_are_refused_clearly_and_change_nothing(live: Live, tool: str) -> None:
    schema, valid = live.schemas[tool], live.valid.get(tool, {})
    before = live.state()

    @FUZZ
    @given(bad_call(schema, valid))
    def refused(case: tuple[dict[str, Any], tuple[str, ...]]) -> None:
        arguments, names = case
        message = error_text(live, tool, arguments)
        assert any(name in message for name in names), f"the error does not name {names[0]}: {message[:500]}"
        assert len(message) <= MESSAGE_LIMIT, f"{len(message)} characters: {message[:300]}"
        still_serving_and_unchanged(live, before)

    refused()


@st.composite
def non_finite_call(draw: st.DrawFn) -> tuple[str, dict[str, Any], str]:
    """(tool, arguments, path): NaN or an Infinity somewhere inside a call's arguments."""
    tool = draw(st.sampled_from(TOOLS))
    steps = draw(st.lists(st.none() | st.from_regex(r"[a-z]{1,6}", fullmatch=True), max_size=4))
    value: Any = draw(st.sampled_from([math.nan, math.inf, -math.inf]))
    for key in reversed(steps):  # None: inside a list, else under that key
        value = [value] if key is None else {key: value}
    name = draw(st.from_regex(r"[a-z_]{1,12}", fullmatch=True))
    return tool, {name: value}, name + "".join("[0]" if key is None else f".{key}" for key in steps)


def test_nan_and_infinity_anywhere_are_named(live: Live) -> None:
    if live.url is None:
        pytest.skip("raw JSON with NaN goes over HTTP; the stdio client encodes NaN as null")
    before = live.state()
    raw = RawSession(live.url)
    session_id = live.portal.call(raw.open)
    try:

        @FUZZ
        @given(non_finite_call())
        def refused(case: tuple[str, dict[str, Any], str]) -> None:
            tool, arguments, path = case
            answer = live.portal.call(post_raw, live.url, session_id, tool, arguments)
            assert f"{path} is not a finite number" in answer["error"]["message"], answer
            still_serving_and_unchanged(live, before)

        refused()
    finally:
        live.portal.call(raw.close)


async def post_raw(url: str, session_id: str, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
    """One tools/call as a hand-written client would send it: Python's json writes NaN and Infinity."""
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": tool, "arguments": arguments}}
    headers = {"accept": "application/json, text/event-stream", "content-type": "application/json",
               "mcp-session-id": session_id}  # fmt: skip
    async with httpx2.AsyncClient(timeout=60) as http:
        response = await http.post(url, content=json.dumps(body), headers=headers)
    text = response.text
    data = text.split("data: ", 1)[1] if text.startswith("event:") else text
    return json.loads(data)

"""Findings 6 and 9: strict arguments everywhere, and error messages that never repeat a huge input."""

from __future__ import annotations

import math

import pytest
from mcp.shared.exceptions import MCPError

from chaos.target.client import call
from chaos.target.live.orchestrator import stdio_client
from orchestrator.tasks import TaskInputError, _text
from tests.orchestrator.integration.helpers import ready

pytestmark = pytest.mark.live

QUERY_SCHEMA = {"properties": {"text": {}, "status": {}, "limit": {}}}


async def test_restart_tools_take_no_strings_for_numbers_and_echo_little(base_dir):
    async with stdio_client(base_dir) as client:
        await ready(client)
        coerced = await call(client, "orchestrator_restart_server", {"timeout": "30"})
        assert coerced["success"] is False and "timeout: Input should be a valid integer" in coerced["error"]
        huge = await call(client, "orchestrator_restart_server", {"reason": "x" * 3_900_000})
        assert huge["success"] is False and "3900002 characters" in huge["error"]
        assert len(huge["error"]) < 1_000
        assert (await call(client, "orchestrator_health_check"))["restart_count"] == 0


async def test_task_tools_refuse_unknown_arguments_with_a_suggestion(base_dir):
    async with stdio_client(base_dir) as client:
        await ready(client)
        with pytest.raises(MCPError, match=r"no argument 'search'; did you mean 'text'\?"):
            await client.call_tool("orchestrator_query_tasks", {"search": "anything"})
        with pytest.raises(MCPError, match="did you mean 'timeout'"):
            await client.call_tool("orchestrator_restart_server", {"timeuot": 30})
        refused = await client.call_tool(
            "orchestrator_plan_task",
            {"title": "bad\x00title", "description": "", "subtasks": [{"title": "s", "specialist_role": "tester"}]},
        )
        assert refused.is_error and "U+0000" in refused.content[0].text
        assert (await call(client, "orchestrator_query_tasks"))["total"] == 0
        assert (await call(client, "orchestrator_health_check"))["healthy"] is True


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_nan_and_infinity_are_named_not_reported_as_none(value):
    # The official client cannot even send them (it encodes them as null), so the raw arguments
    # a hand-written client would send are checked where the supervisor first sees them.
    from orchestrator.supervisor.strict import argument_problem

    problem = argument_problem("orchestrator_query_tasks", {"limit": value}, QUERY_SCHEMA)
    assert problem is not None and "limit is not a finite number" in problem
    nested = argument_problem("orchestrator_complete_subtask", {"artifacts": [{"score": value}]}, None)
    assert nested is not None and "artifacts[0].score is not a finite number" in nested


@pytest.mark.parametrize("text", ["a\x00b", "evil\u202eexe.txt", "iso\u2066late", "bell\x07"])
def test_control_and_bidi_characters_are_refused_in_task_text(text):
    with pytest.raises(TaskInputError, match="control character U\\+"):
        _text("title", text, 200)
    assert _text("description", "tabs\tand\nlines\r\nare fine", 200)


def test_deep_nesting_and_huge_keys_are_refused_with_a_bounded_path():
    # Found by the fuzz (test_fuzz.py): 250 levels reached the supervisor, which could not forward
    # them to the worker (the SDK's serialization depth), and the call hung until the call timeout.
    from orchestrator.supervisor.strict import MAX_NESTING, argument_problem

    deep: object = "leaf"
    for _ in range(MAX_NESTING + 1):
        deep = [deep]
    problem = argument_problem("orchestrator_complete_subtask", {"artifacts": deep}, None)
    assert problem is not None and problem.startswith("artifacts[0][0]") and "deeper than 32 levels" in problem
    assert argument_problem("orchestrator_complete_subtask", {"artifacts": deep[0]}, None) is None
    huge_key = argument_problem("orchestrator_complete_subtask", {"artifacts": [{"k" * 100_000: math.nan}]}, None)
    assert huge_key is not None and "is not a finite number" in huge_key and len(huge_key) < 300


async def test_an_empty_idempotency_key_is_refused_not_replaced(base_dir):
    # Found by the fuzz: the supervisor replaced "" with a key of its own, so the call ran.
    async with stdio_client(base_dir) as client:
        await ready(client)
        planned = await call(client, "orchestrator_plan_task", {
            "title": "t", "description": "", "subtasks": [{"title": "s", "specialist_role": "tester"}],
        })  # fmt: skip
        subtask = planned["subtasks"][0]["id"]
        refused = await client.call_tool("orchestrator_execute_subtask", {"task_id": subtask, "idempotency_key": ""})
        assert refused.is_error and "idempotency_key" in refused.content[0].text
        assert (await call(client, "orchestrator_query_tasks", {"status": "in_progress"}))["total"] == 0


@pytest.mark.parametrize(
    "tool, arguments, named",
    [("orchestrator_update_task", {"priority": True}, "priority must be integer or null, not boolean"),
     ("orchestrator_query_tasks", {"include_archived": 0}, "include_archived must be boolean, not integer"),
     ("orchestrator_update_task", {"priority": "5"}, "priority must be integer or null, not string"),
     ("orchestrator_plan_task", {"subtasks": [{"job": {"suspendable": 1}}]}, "subtasks[0].job.suspendable must be boolean")],
)  # fmt: skip
async def test_task_tools_take_no_value_their_models_would_coerce(tool, arguments, named):
    # Found by the fuzz: pydantic's lax models took true for 1, 0 for false and "5" for 5.
    from orchestrator.supervisor.server import task_tool_list
    from orchestrator.supervisor.strict import argument_problem

    schema = next(dict(t.input_schema) for t in await task_tool_list() if t.name == tool)
    problem = argument_problem(tool, arguments, schema, typed=True)
    assert problem is not None and named in problem, problem

"""Lines on stdio that the SDK cannot parse get an answer, as they do over HTTP.

The SDK's stdio reader hands a line it cannot parse (not JSON, or nested past its parser's limit of
about 200 levels) to the server as an exception, and the server answers nothing: the client waits
for its request forever. Between the reader and the server, this answers such a line with a JSON-RPC
parse error, under the request's own id when the line shows one, so the client's call ends at once
with a message that says what to do.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import mcp_types as types
from anyio.abc import ObjectReceiveStream, ObjectSendStream
from mcp.shared.message import SessionMessage
from pydantic import ValidationError

from orchestrator.supervisor.strict import MAX_NESTING, value_problem

log = logging.getLogger(__name__)

Incoming = SessionMessage | Exception


@asynccontextmanager
async def answering_unparsable(
    read_stream: ObjectReceiveStream[Incoming], write_stream: ObjectSendStream[SessionMessage]
) -> AsyncIterator[ObjectReceiveStream[Incoming]]:
    """The messages of `read_stream`, each line that could not be parsed answered on `write_stream` instead."""
    forward, parsed = anyio.create_memory_object_stream[Incoming](0)
    async with anyio.create_task_group() as group:

        async def relay() -> None:
            async with forward, read_stream:
                async for item in read_stream:
                    if isinstance(item, Exception):
                        await write_stream.send(SessionMessage(parse_error(item)))
                    else:
                        await forward.send(item)

        group.start_soon(relay)
        async with parsed:
            yield parsed
        group.cancel_scope.cancel()


def parse_error(exc: Exception) -> types.JSONRPCError:
    """The answer to a line the reader could not parse: under the request's id when it can be read (else
    null), naming the argument that nests too deep when that is why, as the HTTP transport's strict
    check does."""
    line = _line_of(exc)
    reason = _reason(exc)
    log.warning("refused a stdio line that could not be parsed (%s, %d characters)", reason, len(line or ""))
    document = _document(line)
    problem = _argument_problem(document)
    if problem is not None:
        error = types.ErrorData(code=types.INVALID_PARAMS, message=problem)
    else:
        message = f"the request could not be parsed: {reason}; send valid JSON nested at most {MAX_NESTING} levels deep"
        error = types.ErrorData(code=types.PARSE_ERROR, message=message)
    return types.JSONRPCError(jsonrpc="2.0", id=_request_id(document), error=error)


def _line_of(exc: Exception) -> str | None:
    if isinstance(exc, ValidationError):
        errors = exc.errors()
        if errors and isinstance(errors[0].get("input"), str):
            return errors[0]["input"]
    return None


def _reason(exc: Exception) -> str:
    if isinstance(exc, ValidationError) and exc.errors():
        return str(exc.errors()[0].get("msg", "invalid"))[:200]
    return type(exc).__name__


def _document(line: str | None) -> dict[str, Any] | None:
    """The line as a JSON object, read by the standard library's parser (which goes deeper than the SDK's)."""
    if line is None:
        return None
    try:
        document = json.loads(line)
    except (ValueError, RecursionError):
        return None
    return document if isinstance(document, dict) else None


def _request_id(document: dict[str, Any] | None) -> Any:
    """The request's int or string `id`; None when it has none."""
    found = document.get("id") if document is not None else None
    return found if isinstance(found, int | str) and not isinstance(found, bool) else None


def _argument_problem(document: dict[str, Any] | None) -> str | None:
    """What the strict check says of the first tool argument it refuses (nesting past MAX_NESTING)."""
    params = document.get("params") if document is not None else None
    arguments = params.get("arguments") if isinstance(params, dict) else None
    if not isinstance(arguments, dict):
        return None
    return next((p for name, value in arguments.items() if (p := value_problem(value, str(name)))), None)

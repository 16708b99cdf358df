"""A bare streamable-HTTP MCP session: real TCP connections a fault can cut without a goodbye.

The SDK client always ends a session politely (DELETE) and cannot resume one by id; a dropped
client does neither. This session speaks just enough of the protocol (initialize, tools/call)
over its own HTTP client: `drop()` closes the sockets mid-request, and a new RawSession given
the old id is the same client coming back.
"""

from __future__ import annotations

import itertools
import json
from typing import Any

import httpx2
from mcp_types.version import LATEST_HANDSHAKE_VERSION

SESSION_HEADER = "mcp-session-id"
TIMEOUT_S = 120.0


class RawSession:
    def __init__(self, url: str, session_id: str | None = None):
        self.url = url
        self.session_id = session_id
        self._http = httpx2.AsyncClient(timeout=TIMEOUT_S)
        self._ids = itertools.count(1)

    def _headers(self) -> dict[str, str]:
        headers = {"accept": "application/json, text/event-stream", "mcp-protocol-version": LATEST_HANDSHAKE_VERSION}
        if self.session_id:
            headers[SESSION_HEADER] = self.session_id
        return headers

    async def open(self) -> str:
        """Initialize a new session; return its id."""
        response = await self._post(
            "initialize",
            {
                "protocolVersion": LATEST_HANDSHAKE_VERSION,
                "capabilities": {},
                "clientInfo": {"name": "chaos-raw-client", "version": "0"},
            },
        )
        self.session_id = response.headers[SESSION_HEADER]
        await self._http.post(
            self.url, json={"jsonrpc": "2.0", "method": "notifications/initialized"}, headers=self._headers()
        )
        return self.session_id

    async def call_tool(self, name: str, arguments: dict[str, Any] | None = None) -> tuple[int, dict[str, Any]]:
        """(HTTP status, the tool's JSON answer or the JSON-RPC error) of one tools/call."""
        response = await self._post("tools/call", {"name": name, "arguments": arguments or {}})
        message = _message(response)
        if "error" in message:
            return response.status_code, {"rpc_error": message["error"]}
        result = message["result"]
        if isinstance(result.get("structuredContent"), dict):
            return response.status_code, result["structuredContent"]
        text = " ".join(block.get("text", "") for block in result.get("content", []))
        try:
            return response.status_code, json.loads(text)
        except ValueError:
            return response.status_code, {"is_error": result.get("isError"), "text": text}

    async def _post(self, method: str, params: dict[str, Any]) -> httpx2.Response:
        body = {"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": params}
        return await self._http.post(self.url, json=body, headers=self._headers())

    async def drop(self) -> None:
        """Close every connection at once, as a crashed client or a cut network would: no DELETE."""
        await self._http.aclose()

    async def close(self) -> None:
        """End the session politely (DELETE) if the server is still there, then close the connections."""
        try:
            if self.session_id and not self._http.is_closed:
                await self._http.delete(self.url, headers=self._headers())
        except httpx2.HTTPError:
            pass  # the server is gone: there is no session left to end
        finally:
            await self._http.aclose()


def _message(response: httpx2.Response) -> dict[str, Any]:
    """The JSON-RPC message of a response, whether sent as JSON or as one server-sent event."""
    if response.headers.get("content-type", "").startswith("text/event-stream"):
        for line in response.text.splitlines():
            if line.startswith("data:") and line[5:].strip():
                return json.loads(line[5:])
        return {"error": {"message": "event stream ended without a message", "status": response.status_code}}
    try:
        return response.json()
    except ValueError:
        return {"error": {"message": response.text[:500], "status": response.status_code}}

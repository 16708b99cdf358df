"""Client faults: a client that drops mid-request, and a flood of requests during a restart.

Both bring their own real HTTP clients (chaos.faults.rawhttp), so the clients the test itself
uses are the "other clients" that must stay unaffected. Both act while the supervisor holds
requests (its buffer is closed during the hand-over of a restart, as the health check reports),
so their requests really wait in the buffer. A dropped client is healed by coming back with its
old session id; what the orchestrator answered then is kept in the Injection.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import anyio
from pydantic import Field

from chaos.faults.base import Fault, FaultContext, FaultError, FaultParams, Injection
from chaos.waiting import wait_until

if TYPE_CHECKING:
    from chaos.faults.rawhttp import RawSession

HELD_WAIT_S = 30.0
RESTART_007 = "RESTART_007"


def _needs(ctx: FaultContext, what: str) -> tuple[str, Any]:
    if ctx.url is None or ctx.call_tool is None:
        raise FaultError(f"{what} needs the orchestrator's URL and a client of it in the fault context")
    return ctx.url, ctx.call_tool


async def _buffer(call_tool: Any) -> dict[str, Any]:
    health = await call_tool("orchestrator_health_check", {"include_database_status": False})
    return health["checks"]["connections"]["buffer"]


async def until_holding(call_tool: Any) -> dict[str, Any]:
    """Wait until a restart holds requests in the buffer; return the buffer status."""

    async def holding() -> dict[str, Any] | None:
        buffer = await _buffer(call_tool)
        return buffer if buffer["holding"] else None

    return await wait_until(holding, HELD_WAIT_S, "a restart to hold requests", interval_s=0.01)


class DroppedClientParams(FaultParams):
    mid_request: bool = Field(
        True,
        description="true: wait for a restart to hold requests, send one, drop while it is held; "
        "false: one request answered, then drop at once",
    )
    tool: str = Field("orchestrator_get_status", description="the task tool the dropped request calls")


class DroppedClient(Fault):
    name = "dropped_client"
    summary = "A client's connections close mid-request (no goodbye); healing is the client coming back with its session id."
    guide_sections = ("issue-4.symptom-1", "issue-4.cause-2", "issue-4.solution-2")
    expected_error_codes = ()
    mechanism = "a real HTTP client of this run closes its TCP connections while its request is held"
    Params = DroppedClientParams

    @classmethod
    def sim_blocker(cls, params: dict[str, Any]) -> str | None:
        return "it needs real HTTP connections; simulated clients use the in-memory transport"

    def __init__(self, **params: Any):
        super().__init__(**params)
        self._url: str | None = None
        self._session_id: str | None = None

    async def inject(self, ctx: FaultContext) -> Injection:
        # An HTTP client of its own, loaded when used: `chaos validate` loads this registry and starts fast.
        from chaos.faults.rawhttp import RawSession

        url, call_tool = _needs(ctx, "dropped_client")
        client = RawSession(url)
        try:
            self._session_id = await client.open()
            self._url = url
            if not self.params.mid_request:
                await client.call_tool(self.params.tool)  # one answered request: the server knows this client
                return self.record(self.mechanism, True, session_id=self._session_id, mid_request=False)
            before = (await until_holding(call_tool))["total_buffered_requests"]
            await self._drop_while_held(client, call_tool, before)
            return self.record(self.mechanism, True, session_id=self._session_id, mid_request=True, buffered_before=before)
        finally:
            await client.drop()

    async def _drop_while_held(self, client: RawSession, call_tool: Any, before: int) -> None:
        answered: list[Any] = []

        async def request() -> None:
            try:
                answered.append(await client.call_tool(self.params.tool))
            except Exception:  # the connection is cut under it: that is the point
                return

        async def held() -> bool:
            if answered:
                raise FaultError(f"dropped_client: the request was answered before it could be dropped: {answered[0]}")
            return (await _buffer(call_tool))["total_buffered_requests"] > before

        async with anyio.create_task_group() as group:
            group.start_soon(request)
            await wait_until(held, HELD_WAIT_S, "the dropped client's request to be held by the server")
            await client.drop()

    async def heal(self) -> None:
        """The client comes back: same session id, new connection, one request; the answer is recorded."""
        if self._session_id is None or self._url is None:
            return
        import httpx2

        from chaos.faults.rawhttp import RawSession

        back = RawSession(self._url, self._session_id)
        self._session_id = None
        try:
            status, answer = await back.call_tool(self.params.tool)
        except httpx2.HTTPError as exc:  # the orchestrator is gone: the client cannot come back, and says so
            status, answer = None, {"connection_error": repr(exc)}
        finally:
            await back.close()
        if self.injection is not None:
            self.injection.details["reconnect"] = {"http_status": status, "answer": answer}


class RequestFloodParams(FaultParams):
    requests: int = Field(ge=1, le=10_000, description="requests sent at once")
    sessions: int = Field(1, ge=1, le=100, description="client sessions the requests are spread over")
    tool: str = Field("orchestrator_get_status", description="the task tool each request calls")


class RequestFlood(Fault):
    name = "request_flood"
    summary = "More requests arrive during a restart than the request buffer holds."
    guide_sections = ("issue-4.cause-1", "issue-4.solution-3", "issue-6.cause-2")
    expected_error_codes = ("RESTART_007",)
    mechanism = "real HTTP clients of this run sending requests at once while a restart holds requests"
    Params = RequestFloodParams

    @classmethod
    def sim_blocker(cls, params: dict[str, Any]) -> str | None:
        return "it needs real HTTP connections; simulated clients use the in-memory transport"

    async def inject(self, ctx: FaultContext) -> Injection:
        """Send the flood and wait for every answer (held ones come after the restart): the outcome is recorded."""
        from chaos.faults.rawhttp import RawSession

        url, call_tool = _needs(ctx, "request_flood")
        clients = [RawSession(url) for _ in range(self.params.sessions)]
        try:
            for client in clients:
                await client.open()
            await until_holding(call_tool)
            answers: list[dict[str, Any]] = []

            async def request(client: RawSession) -> None:
                answers.append((await client.call_tool(self.params.tool))[1])

            async with anyio.create_task_group() as group:
                for index in range(self.params.requests):
                    group.start_soon(request, clients[index % len(clients)])
        finally:
            for client in clients:
                await client.close()
        refused = [a for a in answers if a.get("error_code") == RESTART_007]
        failed = [a for a in answers if a not in refused and (a.get("error_code") or "rpc_error" in a or a.get("is_error"))]
        return self.record(
            self.mechanism,
            True,
            sent=self.params.requests,
            answered=len(answers) - len(refused) - len(failed),
            refused_restart_007=len(refused),
            other_errors=failed[:5],
            refusal=refused[0] if refused else None,
        )

    async def heal(self) -> None:
        """Nothing to undo: every request was answered, and the clients are closed, before inject returns."""

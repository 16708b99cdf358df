"""Who may talk to the HTTP server, checked before anything acts on a request.

Order matters: the Host and Origin headers first (DNS rebinding: a web page must not reach a
loopback server through a name it controls), then the bearer token when one is configured,
then the per-peer session cap. Only a request that passes all three reaches the MCP app, so a
refused DELETE ends nothing and a refused request changes no counter.

The guard also says who is the operator: a request that presents the configured bearer token,
or the operator token the server writes owner-only next to endpoint.json at start (read by the
CLI and the chaos harness, which run as the same user). Only the operator sees other clients'
session ids (see orchestrator.supervisor.sessions).
"""

from __future__ import annotations

import hmac
import ipaddress
import os
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orchestrator import clock
from orchestrator.durable import write_atomically
from orchestrator.errors import OrchestratorError

TOKEN_ENV = "MCP_TASK_ORCHESTRATOR_TOKEN"
SESSION_HEADER = b"mcp-session-id"
MAX_SESSIONS_PER_PEER = 256
MAX_SESSIONS = 1024  # every peer together; the SDK answers 503 past it
OPERATOR_TOKEN_FILE = "operator.token"
OPERATOR = "mcp_task_orchestrator_operator"  # the request state key the guard sets

Scope = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Any, Any], Awaitable[None]]


class GuardConfigError(OrchestratorError, ValueError):
    """The HTTP security settings are unusable; the message says what to change."""


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def read_token(token_file: str | None) -> str | None:
    """The bearer token from `--token-file` or $MCP_TASK_ORCHESTRATOR_TOKEN (the file wins)."""
    if token_file:
        try:
            token = Path(token_file).read_text().strip()
        except OSError as exc:
            raise GuardConfigError(f"cannot read the token file {token_file}: {exc.strerror or exc}") from None
        where = f"the token file {token_file}"
    else:
        token = os.environ.get(TOKEN_ENV, "").strip()
        where = f"${TOKEN_ENV}"
        if not token:
            return None
    if len(token) < 32:
        raise GuardConfigError(
            f"{where} holds {len(token)} characters; use at least 32 random ones "
            "(for example `python -c 'import secrets; print(secrets.token_urlsafe(32))'`)"
        )
    return token


def new_operator_token(root: Path) -> str:
    """A fresh operator token, written 0600 into `root` (.task_orchestrator/) for this run only."""
    token = secrets.token_urlsafe(32)
    write_atomically(root / OPERATOR_TOKEN_FILE, token.encode())
    return token


def read_operator_token(root: Path) -> str | None:
    """The running server's operator token, for a client of the same user; None if there is none."""
    try:
        return (root / OPERATOR_TOKEN_FILE).read_text().strip() or None
    except OSError:
        return None


def bearer_client(url: str, token: str | None, **options: Any) -> Any:
    """An SDK client of `url` that sends `Authorization: Bearer <token>` on every request. (The
    SDK is imported here: the CLI's file commands should not pay for it.)"""
    from mcp import Client

    if token is None:
        return Client(url, **options)
    return Client(_bearer_transport(url, token), **options)


@asynccontextmanager
async def _bearer_transport(url: str, token: str) -> AsyncIterator[Any]:
    import httpx2
    from mcp.client.streamable_http import streamable_http_client

    timeout = httpx2.Timeout(30, read=300)  # the SDK's own defaults: a response stream may stay open
    async with (
        httpx2.AsyncClient(headers={"authorization": f"Bearer {token}"}, timeout=timeout) as http,
        streamable_http_client(url, http_client=http) as streams,
    ):
        yield streams


def check_bind(host: str, allow_remote: bool, token: str | None) -> None:
    """A non-loopback address serves anyone who can reach it: only on purpose, and with a token."""
    if is_loopback(host):
        return
    if not allow_remote or token is None:
        raise GuardConfigError(
            f"--http {host} is not a loopback address: anyone who can reach it could run and restart "
            f"tasks. To serve it anyway, pass --allow-remote and set a bearer token ({TOKEN_ENV} or "
            "--token-file); clients then send `Authorization: Bearer <token>`"
        )


def _hostport(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def allowed_hosts(host: str, port: int) -> list[str]:
    """Host header values that name this server: the bound address, and loopback names on loopback."""
    names = [host]
    if is_loopback(host):
        names += ["127.0.0.1", "localhost", "::1"]
    return sorted({_hostport(name, port) for name in names})


@dataclass
class PeerSessions:
    """Open HTTP sessions per peer address, as seen from outside the SDK (opened, used, deleted)."""

    idle_after_s: float
    last_used: dict[str, dict[str, float]] = field(default_factory=dict)  # peer -> session -> time

    def count(self, peer: str) -> int:
        sessions = self.last_used.get(peer, {})
        horizon = clock.monotonic() - self.idle_after_s
        for session_id in [s for s, used in sessions.items() if used < horizon]:
            del sessions[session_id]  # the SDK has ended it for idleness by now
        return len(sessions)

    def used(self, peer: str, session_id: str) -> None:
        self.last_used.setdefault(peer, {})[session_id] = clock.monotonic()

    def ended(self, peer: str, session_id: str) -> None:
        self.last_used.get(peer, {}).pop(session_id, None)


async def _respond(send: Any, status: int, message: str, headers: list[tuple[bytes, bytes]] = ()) -> None:  # type: ignore[assignment]
    body = message.encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"text/plain; charset=utf-8"), *headers],
        }
    )
    await send({"type": "http.response.body", "body": body})


def guarded(
    app: ASGIApp,
    hosts: list[str],
    token: str | None,
    peers: PeerSessions,
    per_peer: int = MAX_SESSIONS_PER_PEER,
    operator_token: str | None = None,
) -> ASGIApp:
    """`app` behind the Host/Origin check, the bearer token and the per-peer session cap; each
    request that gets through carries `state[OPERATOR]`."""
    origins = {f"http://{h}" for h in hosts} | {f"https://{h}" for h in hosts}
    operators = [f"Bearer {t}".encode() for t in (token, operator_token) if t]

    async def guard(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        host = headers.get(b"host", b"").decode(errors="replace")
        origin = headers.get(b"origin", b"").decode(errors="replace")
        if host not in hosts:
            await _respond(send, 421, f"Host {host!r} is not this server; use one of: {', '.join(hosts)}\n")
            return
        if origin and origin not in origins:
            await _respond(send, 403, f"Origin {origin!r} may not use this server\n")
            return
        presented = headers.get(b"authorization", b"")
        operator = any([hmac.compare_digest(presented, credential) for credential in operators])
        if token is not None and not operator:
            await _respond(
                send, 401, "a bearer token is required: send `Authorization: Bearer <token>`\n",
                [(b"www-authenticate", b"Bearer")],
            )  # fmt: skip
            return
        peer = scope["client"][0] if scope.get("client") else "unknown"
        session_id = headers.get(SESSION_HEADER, b"").decode(errors="replace") or None
        if session_id is None and scope.get("method") == "POST" and peers.count(peer) >= per_peer:
            await _respond(
                send, 429,
                f"{peer} already has {per_peer} open sessions; end unused ones (HTTP DELETE) or wait "
                "for them to expire\n",
            )  # fmt: skip
            return

        scope.setdefault("state", {})[OPERATOR] = operator

        async def observe(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                opened = dict(message.get("headers") or []).get(SESSION_HEADER)
                status = message["status"]
                if opened is not None and status < 400:
                    peers.used(peer, opened.decode())
                elif session_id is not None and status == 404:
                    peers.ended(peer, session_id)
            await send(message)

        if session_id is not None:
            if scope.get("method") == "DELETE":
                peers.ended(peer, session_id)
            else:
                peers.used(peer, session_id)
        await app(scope, receive, observe)

    return guard

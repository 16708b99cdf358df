"""The registry of client sessions the supervisor holds, and the reconnection bookkeeping.

A session is one client connection: the stdio pipe, or one HTTP session id. Sessions live in
the supervisor, which is never restarted, so a restart does not disturb them. An HTTP client
that drops and returns with its session id inside the grace period counts as a successful
reconnection; one that returns after its session expired counts as a failed one.

A session id is what lets a client use, test and end (HTTP DELETE) its session, so a client
sees only its own: other sessions' ids are shown as a keyed digest (their counts and states
kept, so diagnostics still add up), and a session named by another client is unknown to it.
The operator (the CLI, the harness, a holder of the configured bearer token, the stdio
client) sees every id.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from statistics import fmean
from typing import Any

import anyio
from mcp.server.session import ServerSession

from orchestrator import clock
from orchestrator.supervisor.tcp import established

STDIO_SESSION_ID = "stdio"
STATELESS_PREFIX = "tcp:"
PING_TIMEOUT_S = 5.0
RECONNECT_AFTER_S = 1.0


@dataclass(frozen=True)
class Caller:
    """Who asks about sessions: the session they call on, and whether they are the operator."""

    session_id: str | None
    operator: bool

    def may_see(self, session_id: str) -> bool:
        return self.operator or session_id == self.session_id


OPERATOR = Caller(None, operator=True)


def utc_now() -> str:
    return clock.utc_now().isoformat()


@dataclass
class ClientSessionRecord:
    session_id: str
    transport: str
    created_at: str = field(default_factory=utc_now)
    last_activity_monotonic: float = field(default_factory=clock.monotonic)
    last_activity: str = field(default_factory=utc_now)
    requests: int = 0
    in_flight: int = 0
    disconnected_since: float | None = None
    reconnections: int = 0
    errors: int = 0
    server_session: ServerSession | None = None

    def public(self) -> dict[str, Any]:
        return {
            "session_id": self.session_id,
            "transport": self.transport,
            "created_at": self.created_at,
            "last_activity": self.last_activity,
            "requests": self.requests,
            "in_flight": self.in_flight,
            "connected": self.disconnected_since is None,
            "reconnections": self.reconnections,
            "errors": self.errors,
        }


class SessionRegistry:
    def __init__(self, grace_period_s: float):
        self.grace_period_s = grace_period_s
        self.server_port: int | None = None
        self._sessions: dict[str, ClientSessionRecord] = {}
        self._expired: set[str] = set()
        self._open_connections: dict[str, int] = {}
        self.successful_reconnections = 0
        self.failed_reconnections = 0
        self._reconnection_times: list[float] = []
        self._mask_key = secrets.token_bytes(16)

    def __len__(self) -> int:
        return len(self._sessions)

    def get(self, session_id: str) -> ClientSessionRecord | None:
        return self._sessions.get(session_id)

    def all(self) -> list[ClientSessionRecord]:
        return list(self._sessions.values())

    def touch(
        self, session_id: str, transport: str, server_session: ServerSession | None
    ) -> ClientSessionRecord:
        record = self._sessions.get(session_id)
        if record is None:
            record = self._sessions[session_id] = ClientSessionRecord(session_id, transport)
        if server_session is not None:
            record.server_session = server_session
        record.last_activity_monotonic = clock.monotonic()
        record.last_activity = utc_now()
        self._note_return(record)
        return record

    def http_connection_opened(self, session_id: str) -> None:
        self._open_connections[session_id] = self._open_connections.get(session_id, 0) + 1
        record = self._sessions.get(session_id)
        if record is not None:
            self._note_return(record)
        elif session_id in self._expired:
            self._expired.discard(session_id)
            self.failed_reconnections += 1

    def http_connection_closed(self, session_id: str) -> None:
        """The last open HTTP connection of a session closing (its GET stream included) is a drop."""
        remaining = self._open_connections.get(session_id, 0) - 1
        if remaining > 0:
            self._open_connections[session_id] = remaining
            return
        self._open_connections.pop(session_id, None)
        record = self._sessions.get(session_id)
        if record is not None:
            record.disconnected_since = clock.monotonic()

    def _note_return(self, record: ClientSessionRecord) -> None:
        if record.disconnected_since is None:
            return
        away = clock.monotonic() - record.disconnected_since
        record.disconnected_since = None
        if away >= RECONNECT_AFTER_S:  # a real drop, not the gap between two HTTP requests
            record.reconnections += 1
            self.successful_reconnections += 1
            self._reconnection_times.append(away)

    def forget(self, session_id: str, expired: bool = True) -> None:
        """Drop a session: expired (a later return counts as a failed reconnection) or closed by its client."""
        if self._sessions.pop(session_id, None) is not None and expired:
            self._expired.add(session_id)

    def refresh_stateless(self) -> None:
        """A stateless HTTP client lives as long as its TCP connection: there is no session to return to."""
        gone = [
            record.session_id
            for record in self._sessions.values()
            if record.transport == "http-stateless" and record.in_flight == 0 and not self.peer_alive(record)
        ]
        for session_id in gone:
            self.forget(session_id, expired=False)

    def peer_alive(self, record: ClientSessionRecord) -> bool:
        host, _, port = record.session_id.removeprefix(STATELESS_PREFIX).rpartition(":")
        return self.server_port is not None and port.isdigit() and established(self.server_port, host, int(port))

    def expire_idle(self) -> list[str]:
        """Drop HTTP sessions whose client has been gone longer than the grace period."""
        now = clock.monotonic()
        gone = [
            s.session_id
            for s in self._sessions.values()
            if s.transport == "http"
            and s.disconnected_since is not None
            and now - s.disconnected_since > self.grace_period_s
        ]
        for session_id in gone:
            self.forget(session_id)
        return gone

    def reconnection_stats(self) -> dict[str, Any]:
        failed = self.failed_reconnections
        return {
            "successful_reconnections": self.successful_reconnections,
            "failed_reconnections": failed,
            "average_reconnection_time": round(fmean(self._reconnection_times), 3)
            if self._reconnection_times
            else 0.0,
            "status": "healthy" if failed == 0 else "degraded",
        }

    def shown_id(self, session_id: str, caller: Caller) -> str:
        """The id to its own client and the operator; to anyone else a digest that tells sessions
        apart but cannot be turned back into the id (keyed: a stateless `tcp:` id is guessable)."""
        if caller.may_see(session_id):
            return session_id
        digest = hashlib.blake2b(session_id.encode(), key=self._mask_key, digest_size=6).hexdigest()
        return f"masked-{digest}"

    def get_for(self, session_id: str, caller: Caller) -> ClientSessionRecord | None:
        """The session, if `caller` may know of it; another client's session is as unknown as none."""
        return self.get(session_id) if caller.may_see(session_id) else None

    def shown(self, entry: dict[str, Any], caller: Caller) -> dict[str, Any]:
        return {**entry, "session_id": self.shown_id(entry["session_id"], caller)}

    def snapshot_records(self, caller: Caller = OPERATOR) -> list[dict[str, Any]]:
        return [self.shown(s.public(), caller) for s in self._sessions.values()]


async def probe(registry: SessionRegistry, record: ClientSessionRecord) -> dict[str, Any]:
    """Really ask the client: a ping over its session, or for stateless HTTP its TCP connection's state."""
    result: dict[str, Any] = {"session_id": record.session_id, "transport": record.transport}
    if record.transport == "http-stateless":
        alive = registry.peer_alive(record)
        result.update(
            status="pass" if alive else "fail",
            reachable=alive,
            connected=alive,
            reason="TCP connection established (stateless HTTP has no back-channel to ping)"
            if alive
            else "the client's TCP connection is closed",
        )
        return result
    session = record.server_session
    if session is None:
        result.update(status="fail", reachable=False, reason="no request has arrived on this session yet")
        return result
    started = clock.monotonic()
    try:
        with anyio.fail_after(PING_TIMEOUT_S):
            await session.send_ping()
    except TimeoutError:
        result.update(status="fail", reachable=False, reason=f"no answer to ping within {PING_TIMEOUT_S}s")
    except Exception as exc:  # any transport failure means the client is not reachable
        result.update(status="fail", reachable=False, reason=f"ping failed: {exc!r}")
    else:
        result.update(
            status="pass", reachable=True, round_trip_ms=round((clock.monotonic() - started) * 1000, 2)
        )
    result["connected"] = record.disconnected_since is None
    return result

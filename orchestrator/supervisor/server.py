"""The process a client starts: an MCP server (stdio or streamable HTTP) in front of the worker.

Task tools are listed from the worker and forwarded to it; the five reboot tools are answered
here. The client's stdio pipe or HTTP session id belongs to this process, so replacing the
worker behind it does not disturb the client.
"""

from __future__ import annotations

import argparse
import functools
import json
import logging
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import uvicorn
from mcp.server.lowlevel import Server
from mcp.server.stdio import stdio_server
from mcp.server.transport_security import TransportSecuritySettings
from mcp_types import CallToolRequestParams, CallToolResult, ListToolsResult, Tool

from orchestrator import __version__, entropy, lockfile
from orchestrator.config import ConfigError, Paths, resolve_base_dir, resolve_log_level
from orchestrator.durable import private_directory, write_atomically
from orchestrator.logs import setup_logging
from orchestrator.supervisor.coordinator import RestartCoordinator
from orchestrator.supervisor.http_guard import (
    MAX_SESSIONS,
    MAX_SESSIONS_PER_PEER,
    OPERATOR,
    TOKEN_ENV,
    GuardConfigError,
    PeerSessions,
    allowed_hosts,
    check_bind,
    guarded,
    new_operator_token,
    read_token,
)
from orchestrator.supervisor.reboot_tools import DESCRIPTIONS, MODELS, ArgumentError, RebootTools
from orchestrator.supervisor.runtime import Runtime, SupervisorSettings, WorkerFactory, json_result
from orchestrator.supervisor.sessions import STATELESS_PREFIX, STDIO_SESSION_ID, Caller
from orchestrator.supervisor.stdio_refusals import answering_unparsable
from orchestrator.supervisor.strict import StrictArguments
from orchestrator.supervisor.supervision import SupervisionPolicy
from orchestrator.supervisor.worker_process import WorkerHandle
from orchestrator.task_tools import task_tool_list

log = logging.getLogger(__name__)

SESSION_HEADER = "mcp-session-id"
EXPIRY_SWEEP_S = 1.0
LISTEN_BACKLOG = 2048


@functools.cache
def reboot_tool_list() -> tuple[Tool, ...]:
    """Built once: generating the argument schemas is the costliest part of listing tools."""
    return tuple(
        Tool(name=name, description=DESCRIPTIONS[name], input_schema=model.model_json_schema())
        for name, model in MODELS.items()
    )


def session_of(ctx: Any) -> tuple[str, str]:
    """(session id, transport): the HTTP session id, `stdio`, or for stateless HTTP the client's TCP peer."""
    request = getattr(ctx, "request", None)
    if request is None:
        return STDIO_SESSION_ID, "stdio"
    session_id = request.headers.get(SESSION_HEADER)
    if session_id:
        return session_id, "http"
    if request.client is None:
        return f"stateless-{entropy.new_id()}", "http-stateless"
    return f"{STATELESS_PREFIX}{request.client.host}:{request.client.port}", "http-stateless"


def is_operator(ctx: Any) -> bool:
    """The stdio client started the server (an in-process one is the harness); over HTTP the guard decided."""
    request = getattr(ctx, "request", None)
    return request is None or bool(getattr(request.state, OPERATOR, False))


class Supervisor:
    def __init__(self, runtime: Runtime):
        self.runtime = runtime
        self.coordinator = RestartCoordinator(runtime)
        self.reboot = RebootTools(runtime, self.coordinator)
        self.server: Server[Any] = Server(
            "mcp-task-orchestrator",
            version=__version__,
            instructions="Task orchestrator with a restart system that keeps clients connected. "
            "Use orchestrator_health_check and orchestrator_restart_status to diagnose restarts.",
            on_list_tools=self.list_tools,
            on_call_tool=self.call_tool,
            get_tool_input_schema=self.input_schema,
        )
        self.server.middleware.append(StrictArguments(self.input_schema, typed=lambda name: name not in MODELS))

    def tools(self) -> list[Tool]:
        return [*self.runtime.task_tools, *reboot_tool_list()]

    def input_schema(self, name: str) -> dict[str, Any] | None:
        for tool in self.tools():
            if tool.name == name:
                return dict(tool.input_schema)
        return None

    async def list_tools(self, ctx: Any, params: Any) -> ListToolsResult:
        return ListToolsResult(tools=self.tools())

    async def call_tool(self, ctx: Any, params: CallToolRequestParams) -> CallToolResult:
        session_id, transport = session_of(ctx)
        record = self.runtime.sessions.touch(session_id, transport, ctx.session)
        record.requests += 1
        name, arguments = params.name, dict(params.arguments or {})
        if name in MODELS:
            try:
                caller = Caller(session_id, is_operator(ctx))
                return json_result(await self.reboot.call(name, arguments, caller))
            except ArgumentError as exc:
                return json_result({"success": False, "error": str(exc)}, is_error=True)
        if self.input_schema(name) is None:
            known = ", ".join(t.name for t in self.tools())
            return json_result(
                {"success": False, "error": f"unknown tool {name!r}; known tools: {known}"}, is_error=True
            )
        return await self.runtime.forward(session_id, name, arguments)

    # -- transports ------------------------------------------------------------------------
    async def serve_stdio(self) -> None:
        async with stdio_server() as (read_stream, write_stream):
            async with answering_unparsable(read_stream, write_stream) as parsed:
                await self.server.run(parsed, write_stream, self.server.create_initialization_options())

    async def serve_http(self, host: str, port: int, token: str | None = None) -> None:
        # IPPROTO_TCP named, not left 0: asyncio turns Nagle's algorithm off only on sockets that say
        # they are TCP. With it on, a response's body waited ~40 ms for the ACK of its headers.
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((host, port))
        sock.listen(LISTEN_BACKLOG)  # before endpoint.json is written: a client reading it can connect at once
        bound_port = sock.getsockname()[1]
        hosts = allowed_hosts(host, bound_port)
        grace_s = self.runtime.settings.grace_period_s
        app = self.server.streamable_http_app(
            host=host,
            session_idle_timeout=grace_s,
            max_sessions=MAX_SESSIONS,
            transport_security=TransportSecuritySettings(
                allowed_hosts=hosts, allowed_origins=[f"http://{h}" for h in hosts]
            ),
        )
        self.runtime.sessions.server_port = bound_port
        operator_token = new_operator_token(self.runtime.paths.root)  # before endpoint.json, read with it
        url = f"http://{host if ':' not in host else f'[{host}]'}:{bound_port}/mcp"
        endpoint = {"url": url, "pid": os.getpid(), "host": host, "port": bound_port}
        write_atomically(self.runtime.paths.root / "endpoint.json", json.dumps(endpoint).encode())
        log.info("serving MCP over streamable HTTP at %s", url)
        print(f"task orchestrator listening on {url}", file=sys.stderr, flush=True)
        served = guarded(
            self._observe_sessions(app), hosts, token, PeerSessions(grace_s), operator_token=operator_token
        )
        config = uvicorn.Config(served, log_level="warning", lifespan="on")
        await uvicorn.Server(config).serve(sockets=[sock])

    def _observe_sessions(self, app: Any) -> Any:
        """ASGI wrapper that sees each HTTP connection of a session open and close (drop detection)."""
        sessions = self.runtime.sessions

        async def observed(scope: dict[str, Any], receive: Any, send: Any) -> None:
            session_id = None
            if scope["type"] == "http":
                headers = dict(scope.get("headers") or [])
                raw = headers.get(SESSION_HEADER.encode())
                session_id = raw.decode() if raw else None
            if session_id is None:
                await app(scope, receive, send)
                return
            if scope.get("method") == "DELETE":
                sessions.forget(session_id, expired=False)
                await app(scope, receive, send)
                return
            sessions.http_connection_opened(session_id)
            try:
                await app(scope, receive, send)
            finally:
                sessions.http_connection_closed(session_id)

        return observed

    async def sweep_expired_sessions(self) -> None:
        while True:
            await anyio.sleep(EXPIRY_SWEEP_S)
            self.runtime.sessions.refresh_stateless()
            for session_id in self.runtime.sessions.expire_idle():
                log.info(
                    "session %s expired after the %.0fs grace period",
                    session_id,
                    self.runtime.settings.grace_period_s,
                )


def check_state_dir(paths: Paths) -> str | None:
    """The reboot system needs a writable state dir; say why not (RESTART_001) instead of failing later."""
    try:
        private_directory(paths.state_dir)
        write_atomically(paths.state_dir / ".writable", b"ok\n")
        (paths.state_dir / ".writable").unlink()
    except OSError as exc:
        return f"state directory {paths.state_dir} is unusable at start: {exc.strerror or exc}; fix it and restart the server"
    return None


@asynccontextmanager
async def running_supervisor(
    paths: Paths, settings: SupervisorSettings, worker_factory: WorkerFactory = WorkerHandle
) -> AsyncIterator[Supervisor]:
    """The supervisor and its first worker, until the caller's transport stops serving.

    The process serves it over stdio or HTTP (`run_supervisor`); the simulator serves it in-process.
    """
    async with anyio.create_task_group() as task_group:
        runtime = Runtime(paths, settings, task_group, worker_factory)
        runtime.task_tools = await task_tool_list()
        runtime.reboot_init_error = check_state_dir(paths)
        if runtime.reboot_init_error:
            log.error("%s", runtime.reboot_init_error)
        supervisor = Supervisor(runtime)
        task_group.start_soon(runtime.recover, None, "starting the first worker")
        task_group.start_soon(supervisor.sweep_expired_sessions)
        try:
            yield supervisor
        finally:
            runtime.shutting_down = True
            with anyio.CancelScope(shield=True):
                if runtime.worker is not None:
                    await runtime.worker.stop(settings.stop_grace_s)
            task_group.cancel_scope.cancel()


async def run_supervisor(
    paths: Paths, settings: SupervisorSettings, http: tuple[str, int] | None, token: str | None = None
) -> None:
    async with running_supervisor(paths, settings) as supervisor, anyio.create_task_group() as signals:
        signals.start_soon(stop_on_signals, signals.cancel_scope)
        if http:
            await supervisor.serve_http(*http, token=token)
        else:
            await supervisor.serve_stdio()
        signals.cancel_scope.cancel()


async def stop_on_signals(scope: anyio.CancelScope) -> None:
    with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        async for signum in signals:
            log.info("received %s; stopping", signal.Signals(signum).name)
            scope.cancel()
            return


def parse_http(value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    host = host.strip("[]") or "127.0.0.1"
    try:
        number = int(port)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--http expects [HOST:]PORT, got {value!r}") from None
    if not 0 <= number <= 65535:
        raise argparse.ArgumentTypeError(f"port {number} is out of range 0..65535")
    return host, number


def positive_seconds(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {value!r}") from None
    if not 0 < seconds < float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {value!r}")
    return seconds


def parse_loss_limit(value: str) -> tuple[int, float]:
    count, _, seconds = value.partition("/")
    try:
        parsed = int(count), float(seconds)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected COUNT/SECONDS such as 5/30, got {value!r}") from None
    if parsed[0] < 1 or not 0 < parsed[1] < float("inf"):
        raise argparse.ArgumentTypeError(f"COUNT must be at least 1 and SECONDS positive, got {value!r}")
    return parsed


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m mcp_task_orchestrator.server",
        description="Start the MCP task orchestrator: a supervisor that serves MCP clients over stdio "
        "(default) or streamable HTTP, and runs the orchestrator in a worker process it can replace "
        "without dropping clients (orchestrator_restart_server).",
        epilog="Environment: MCP_TASK_ORCHESTRATOR_BASE_DIR (state location), MCP_TASK_ORCHESTRATOR_LOG_LEVEL "
        f"(DEBUG..CRITICAL), MCP_TASK_ORCHESTRATOR_ALLOW_COMMAND_JOBS=1 (allow external command jobs), {TOKEN_ENV} "
        f"(bearer token for HTTP clients). At most {MAX_SESSIONS_PER_PEER} HTTP sessions per client address, "
        f"{MAX_SESSIONS} in all. "
        "Files live in <base>/.task_orchestrator/.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    defaults = SupervisorSettings()
    parser.add_argument(
        "--base-dir",
        help="directory holding .task_orchestrator/ (default: $MCP_TASK_ORCHESTRATOR_BASE_DIR or the working directory)",
    )
    parser.add_argument(
        "--http",
        metavar="[HOST:]PORT",
        type=parse_http,
        help="serve streamable HTTP at http://HOST:PORT/mcp instead of stdio (HOST defaults to 127.0.0.1; PORT 0 picks a free port, written to .task_orchestrator/endpoint.json)",
    )
    parser.add_argument(
        "--allow-remote",
        action="store_true",
        help="allow --http on a non-loopback address (a bearer token is then required)",
    )
    parser.add_argument(
        "--token-file",
        help=f"file holding the bearer token HTTP clients must send (default: ${TOKEN_ENV}; none on loopback)",
    )
    parser.add_argument(
        "--log-level",
        help="DEBUG, INFO, WARNING, ERROR or CRITICAL (default: $MCP_TASK_ORCHESTRATOR_LOG_LEVEL or INFO)",
    )
    parser.add_argument(
        "--buffer-per-session",
        type=int,
        default=defaults.buffer_per_session,
        help="requests held per session during a restart (default %(default)s)",
    )
    parser.add_argument(
        "--buffer-total",
        type=int,
        default=defaults.buffer_total,
        help="requests held in total during a restart (default %(default)s)",
    )
    parser.add_argument(
        "--grace-period",
        type=float,
        default=defaults.grace_period_s,
        help="seconds an HTTP session survives without its client (default %(default)s)",
    )
    parser.add_argument(
        "--stuck-after",
        type=float,
        default=defaults.stuck_after_s,
        help="seconds in one phase after which an emergency restart may pre-empt a running restart (default %(default)s)",
    )
    parser.add_argument(
        "--worker-start-timeout",
        type=positive_seconds,
        default=defaults.worker_start_timeout_s,
        help="seconds a worker process may take to start (default %(default)s)",
    )
    policy = defaults.supervision
    parser.add_argument(
        "--worker-loss-limit",
        metavar="COUNT/SECONDS",
        type=parse_loss_limit,
        default=(policy.intensity, policy.period_s),
        help="a lost worker is replaced at once, then with doubling pauses; more than COUNT losses "
        f"within SECONDS make the orchestrator degraded (RESTART_006) (default {policy.intensity}/{policy.period_s:g})",
    )
    parser.add_argument(
        "--slow-retry",
        type=positive_seconds,
        default=policy.slow_retry_s,
        help="seconds between worker start attempts while degraded (default %(default)s)",
    )
    parser.add_argument(
        "--recovery-hold",
        type=positive_seconds,
        default=defaults.recovery_hold_s,
        help="seconds a call waits for a replacement worker before it is answered RESTART_006 (default %(default)s)",
    )
    parser.add_argument(
        "--no-early-start",
        action="store_true",
        help="spawn the replacement worker only after the old one handed over (slower; for benchmarks)",
    )
    return parser


def settings_from(args: argparse.Namespace) -> SupervisorSettings:
    return SupervisorSettings(
        buffer_per_session=args.buffer_per_session,
        buffer_total=args.buffer_total,
        grace_period_s=args.grace_period,
        stuck_after_s=args.stuck_after,
        worker_start_timeout_s=args.worker_start_timeout,
        early_start=not args.no_early_start,
        supervision=SupervisionPolicy(
            intensity=args.worker_loss_limit[0], period_s=args.worker_loss_limit[1], slow_retry_s=args.slow_retry
        ),
        recovery_hold_s=args.recovery_hold,
    )


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    for flag, value in (
        ("--buffer-per-session", args.buffer_per_session),
        ("--buffer-total", args.buffer_total),
    ):
        if value < 1:
            print(f"error: {flag} must be at least 1", file=sys.stderr)
            return 2
    try:
        token = read_token(args.token_file)
        if args.http:
            check_bind(args.http[0], args.allow_remote, token)
    except GuardConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        paths = Paths(resolve_base_dir(args.base_dir))
        setup_logging(paths, resolve_log_level(args.log_level), "supervisor")
    except (ConfigError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        note = lockfile.acquire(paths.lock_file)
    except (lockfile.LockHeld, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if note:
        log.warning(note)
    settings = settings_from(args)
    log.info(
        "supervisor %d starting (base %s, %s)", os.getpid(), paths.base, "http" if args.http else "stdio"
    )
    try:
        anyio.run(run_supervisor, paths, settings, args.http, token)
    except KeyboardInterrupt:
        pass
    finally:
        lockfile.release(paths.lock_file)
    return 0

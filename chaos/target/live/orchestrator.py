"""A live orchestrator started by the harness: real supervisor and worker processes.

Everything it starts it also stops, and it only ever signals processes it started (the
supervisor it spawned and that supervisor's own worker children). The supervisor carries the
run's id and dies with the harness (see chaos.host.ownership). Optionally it runs confined (see
chaos.host.namespace), so disk faults are real and stay inside its namespace, and with a fault point
file armed by the faults that need one.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import anyio
from mcp import Client, StdioServerParameters

from chaos.faults.base import FaultContext
from chaos.host.namespace import Confinement, view
from chaos.host.ownership import bound_to_harness, children, owned_env
from chaos.target.client import START_TIMEOUT_S, call
from chaos.waiting import wait_until
from orchestrator.config import Paths
from orchestrator.faultpoints import FAULTPOINTS_ENV
from orchestrator.supervisor.http_guard import bearer_client, read_operator_token

SERVER_MODULE = "mcp_task_orchestrator.server"


def child_pids(pid: int) -> list[int]:
    """Children of `pid`, oldest first: during a restart, the serving worker, then its replacement."""
    return children(pid)


def server_command(base_dir: Path, extra_args: list[str]) -> list[str]:
    return [sys.executable, "-m", SERVER_MODULE, "--base-dir", str(base_dir), *extra_args]


def server_env(extra: dict[str, str] | None) -> dict[str, str]:
    return owned_env(extra)


class HttpOrchestrator:
    """`python -m mcp_task_orchestrator.server --http 127.0.0.1:0` in its own base directory.

    `confine` starts it confined (chaos.host.namespace); `faultpoints` gives it a fault point file
    (empty until a fault arms a point). The harness's own files go to `<base>/.chaos/`.
    """

    def __init__(
        self,
        base_dir: Path,
        extra_args: list[str] | None = None,
        env: dict[str, str] | None = None,
        confine: Confinement | None = None,
        faultpoints: bool = False,
    ):
        self.host_paths = Paths(base_dir)
        self.extra_args = extra_args or []
        self.confine = confine
        self.scratch = base_dir / ".chaos"
        self.faultpoints = self.scratch / "faultpoints.json" if faultpoints else None
        self.env = {**(env or {}), **({FAULTPOINTS_ENV: str(self.faultpoints)} if self.faultpoints else {})}
        self.process: subprocess.Popen[bytes] | None = None
        self.url: str | None = None
        self.log_path = base_dir / "supervisor.stderr.log"

    @property
    def paths(self) -> Paths:
        """The orchestrator's files as it sees them (through /proc/<pid>/root when confined).

        Plain file access only: SQLite resolves that symbolic link and would open the host's file
        under the tmpfs instead; see chaos.faults.database.sqlite_command for database access."""
        if self.confine is not None and self.running:
            return Paths(view(self.pid, self.host_paths.base))
        return self.host_paths

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    async def start(self) -> str:
        self.host_paths.base.mkdir(parents=True, exist_ok=True)
        self.scratch.mkdir(exist_ok=True)
        (self.host_paths.root / "endpoint.json").unlink(missing_ok=True)
        command = bound_to_harness(server_command(self.host_paths.base, ["--http", "127.0.0.1:0", *self.extra_args]))
        if self.confine is not None:
            command = self.confine.command(self.host_paths, self.scratch / "logs", command)
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                cwd=self.host_paths.base,
                env=server_env(self.env),
            )

        def ready() -> str | None:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"orchestrator exited with {self.process.returncode}: {self.log_path.read_text()[-2000:]}")
            try:
                data = json.loads((self.paths.root / "endpoint.json").read_text())
            except (OSError, ValueError):
                return None
            return data["url"] if data.get("pid") == self.pid else None

        self.url = await wait_until(ready, START_TIMEOUT_S, "the orchestrator's HTTP endpoint")
        await wait_until(lambda: accepts_connections(self.url), START_TIMEOUT_S, f"{self.url} to accept connections")
        return self.url

    def client(self, operator: bool = True, **options: Any) -> Client:
        """An SDK client; the harness's are the operator (who sees every client's session) unless
        `operator=False`, with the token the server wrote for its own user."""
        assert self.url is not None, "start() first"
        options.setdefault("cache", None)
        return bearer_client(self.url, read_operator_token(self.paths.root) if operator else None, **options)

    def worker_pids(self) -> list[int]:
        return child_pids(self.pid) if self.process else []

    def fault_context(self, client: Client | None = None) -> FaultContext:
        """What a fault may touch in this orchestrator: its files, its processes, a client of ours."""

        async def worker_pid() -> int | None:
            """The serving worker, as the supervisor says (after a restart the old one lingers a moment)."""
            if not self.running:
                return None
            if client is None:
                pids = self.worker_pids()
                return pids[0] if len(pids) == 1 else None
            health = await call(client, "orchestrator_health_check", {"include_database_status": False})
            return health.get("worker_pid")

        async def call_tool(tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
            assert client is not None, "this fault context has no client"
            return await call(client, tool, arguments)

        return FaultContext(
            paths=self.paths,
            scratch=self.scratch,
            supervisor_pid=lambda: self.pid if self.running else None,
            worker_pid=worker_pid,
            call_tool=call_tool if client is not None else None,
            mount_namespace_pid=self.pid if self.confine is not None and self.running else None,
            url=self.url,
            faultpoints=self.faultpoints,
        )

    async def stop(self, timeout_s: float = 15.0) -> int | None:
        """SIGTERM the supervisor (it stops its worker); SIGKILL both if they outstay `timeout_s`."""
        if self.process is None:
            return None
        workers = self.worker_pids()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            await wait_until(lambda: self.process.poll() is not None, timeout_s, "the supervisor to exit")
        except TimeoutError:
            self.process.kill()
            self.process.wait()
        for pid in workers:
            kill_if_alive(pid)
        return self.process.returncode


async def accepts_connections(url: str) -> bool:
    """Whether the endpoint's port takes a TCP connection (endpoint.json is written before it listens)."""
    address = urlsplit(url)
    try:
        stream = await anyio.connect_tcp(address.hostname, address.port)
    except OSError:
        return False
    await stream.aclose()
    return True


def kill_if_alive(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


@asynccontextmanager
async def http_orchestrator(
    base_dir: Path,
    extra_args: list[str] | None = None,
    env: dict[str, str] | None = None,
    confine: Confinement | None = None,
    faultpoints: bool = False,
):
    orchestrator = HttpOrchestrator(base_dir, extra_args, env, confine, faultpoints)
    try:
        await orchestrator.start()
        yield orchestrator
    finally:
        with anyio.CancelScope(shield=True):
            await orchestrator.stop()


def stdio_client(base_dir: Path, extra_args: list[str] | None = None, env: dict[str, str] | None = None) -> Client:
    """An MCP client that starts its own orchestrator over stdio, as Claude Desktop would."""
    parameters = StdioServerParameters(
        command=sys.executable,
        args=server_command(base_dir, extra_args or [])[1:],
        env=server_env(env),
        cwd=str(base_dir),
    )
    return Client(parameters, cache=None)

"""A live orchestrator started by the harness: real supervisor and worker processes.

Everything it starts it also stops, and it only ever signals processes it started (the
supervisor it spawned and that supervisor's own worker children).
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

import anyio
from mcp import Client, StdioServerParameters
from mcp_types import CallToolResult

from chaos.waiting import wait_until
from orchestrator.config import Paths

SERVER_MODULE = "mcp_task_orchestrator.server"
START_TIMEOUT_S = 30.0


def structured(result: CallToolResult) -> dict[str, Any]:
    """The JSON object a tool answered with (error results included)."""
    if isinstance(result.structured_content, dict):
        return result.structured_content
    text = " ".join(getattr(block, "text", "") for block in result.content)
    try:
        value = json.loads(text)
    except ValueError:
        value = None
    if isinstance(value, dict):
        return value
    return {"is_error": result.is_error, "text": text}


async def call(client: Client, tool: str, arguments: dict[str, Any] | None = None, timeout_s: float = 330) -> dict[str, Any]:
    return structured(await client.call_tool(tool, arguments or {}, read_timeout_seconds=timeout_s))


def child_pids(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


def server_command(base_dir: Path, extra_args: list[str]) -> list[str]:
    return [sys.executable, "-m", SERVER_MODULE, "--base-dir", str(base_dir), *extra_args]


def server_env(extra: dict[str, str] | None) -> dict[str, str]:
    env = dict(os.environ)
    env.update(extra or {})
    return env


class HttpOrchestrator:
    """`python -m mcp_task_orchestrator.server --http 127.0.0.1:0` in its own base directory."""

    def __init__(self, base_dir: Path, extra_args: list[str] | None = None, env: dict[str, str] | None = None):
        self.paths = Paths(base_dir)
        self.extra_args = extra_args or []
        self.env = env
        self.process: subprocess.Popen[bytes] | None = None
        self.url: str | None = None
        self.log_path = base_dir / "supervisor.stderr.log"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    async def start(self) -> str:
        self.paths.base.mkdir(parents=True, exist_ok=True)
        endpoint = self.paths.root / "endpoint.json"
        endpoint.unlink(missing_ok=True)
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                server_command(self.paths.base, ["--http", "127.0.0.1:0", *self.extra_args]),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                cwd=self.paths.base,
                env=server_env(self.env),
            )

        def ready() -> str | None:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"orchestrator exited with {self.process.returncode}: {self.log_path.read_text()[-2000:]}")
            try:
                data = json.loads(endpoint.read_text())
            except (OSError, ValueError):
                return None
            return data["url"] if data.get("pid") == self.pid else None

        self.url = await wait_until(ready, START_TIMEOUT_S, "the orchestrator's HTTP endpoint")
        return self.url

    def client(self, **options: Any) -> Client:
        assert self.url is not None, "start() first"
        options.setdefault("cache", None)
        return Client(self.url, **options)

    def worker_pids(self) -> list[int]:
        return child_pids(self.pid) if self.process else []

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


def kill_if_alive(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


@asynccontextmanager
async def http_orchestrator(base_dir: Path, extra_args: list[str] | None = None, env: dict[str, str] | None = None):
    orchestrator = HttpOrchestrator(base_dir, extra_args, env)
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

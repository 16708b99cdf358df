"""Logging to stderr and `.task_orchestrator/logs/server.log`.

stdout is never used: over stdio it carries the MCP protocol itself. The log file is opened
owner-only and never through a symbolic link (`durable.open_private`).
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from orchestrator.config import Paths
from orchestrator.durable import open_private, private_directory

FORMAT = "%(asctime)s %(levelname)s [%(process)d %(name)s] %(message)s"


def log_format(role: str, pid: int | None = None) -> str:
    """The server log's line format for a process in `role`; `pid` stands for the process id when the
    records come from a simulated process (the real one would be the harness's)."""
    line = FORMAT.replace("%(name)s", f"{role} %(name)s")
    return line if pid is None else line.replace("%(process)d", str(pid))


def formatter(role: str) -> logging.Formatter:
    return logging.Formatter(log_format(role))


def setup_logging(paths: Paths, level: int, role: str) -> None:
    private_directory(paths.root)
    private_directory(paths.logs)
    log_file = os.fdopen(
        open_private(paths.log_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND), "a", encoding="utf-8"
    )
    root = logging.getLogger()
    for old in root.handlers:
        old.close()
    root.handlers.clear()
    root.setLevel(level)
    for handler in (logging.StreamHandler(sys.stderr), logging.StreamHandler(log_file)):
        handler.setFormatter(formatter(role))
        root.addHandler(handler)
    for noisy in ("httpx", "httpcore", "uvicorn.access", "mcp.server.streamable_http", "mcp.client"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))


@contextmanager
def logging_left_alone() -> Iterator[None]:
    """Build an SDK server without it configuring this process's logging: `MCPServer()` calls
    `logging.basicConfig(level=INFO)` when the root logger has no handler, which in the harness's
    process (tool lists, simulated workers) would print every HTTP request the harness makes."""
    root = logging.getLogger()
    placeholder = logging.NullHandler()
    root.addHandler(placeholder)
    try:
        yield
    finally:
        root.removeHandler(placeholder)

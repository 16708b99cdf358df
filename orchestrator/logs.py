"""Logging to stderr and `.task_orchestrator/logs/server.log`.

stdout is never used: over stdio it carries the MCP protocol itself.
"""

from __future__ import annotations

import logging
import sys

from orchestrator.config import Paths

FORMAT = "%(asctime)s %(levelname)s [%(process)d %(name)s] %(message)s"


def formatter(role: str) -> logging.Formatter:
    return logging.Formatter(FORMAT.replace("%(name)s", f"{role} %(name)s"))


def setup_logging(paths: Paths, level: int, role: str) -> None:
    paths.logs.mkdir(parents=True, exist_ok=True)
    root = logging.getLogger()
    root.handlers.clear()
    root.setLevel(level)
    for handler in (logging.StreamHandler(sys.stderr), logging.FileHandler(paths.log_file, encoding="utf-8")):
        handler.setFormatter(formatter(role))
        root.addHandler(handler)
    for noisy in ("httpx", "httpcore", "uvicorn.access", "mcp.server.streamable_http", "mcp.client"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))

"""Where the orchestrator keeps its files, and the settings read from the environment.

One place resolves every path so that nothing else builds paths by hand, and so that
every path the system touches is confined to the base directory.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

from orchestrator.errors import OrchestratorError

BASE_DIR_ENV = "MCP_TASK_ORCHESTRATOR_BASE_DIR"
LOG_LEVEL_ENV = "MCP_TASK_ORCHESTRATOR_LOG_LEVEL"
ALLOW_COMMAND_JOBS_ENV = "MCP_TASK_ORCHESTRATOR_ALLOW_COMMAND_JOBS"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class ConfigError(OrchestratorError, ValueError):
    """A setting is invalid; the message says which and what to do."""


@dataclass(frozen=True)
class Paths:
    """Every file of one orchestrator instance, under `<base>/.task_orchestrator/`."""

    base: Path

    @property
    def root(self) -> Path:
        return self.base / ".task_orchestrator"

    @property
    def database(self) -> Path:
        return self.root / "task_orchestrator.db"

    @property
    def lock_file(self) -> Path:
        return self.root / "server.lock"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def log_file(self) -> Path:
        return self.logs / "server.log"

    @property
    def state_dir(self) -> Path:
        return self.root / "server_state"

    @property
    def current_state(self) -> Path:
        return self.state_dir / "current_state.json"

    @property
    def history_file(self) -> Path:
        return self.state_dir / "restart_history.jsonl"

    def inside_state_dir(self, name: str) -> Path:
        """Resolve a file name given by a user or a state file, refusing anything outside the state dir."""
        candidate = (self.state_dir / name).resolve()
        if candidate.parent != self.state_dir.resolve():
            raise ConfigError(f"{name!r} is not a file directly inside {self.state_dir}")
        return candidate


def resolve_base_dir(cli_value: str | None = None) -> Path:
    """`--base-dir` wins over the environment, which wins over the working directory."""
    raw = cli_value or os.environ.get(BASE_DIR_ENV) or os.getcwd()
    return Path(raw).expanduser().resolve()


def resolve_log_level(cli_value: str | None = None) -> int:
    raw = (cli_value or os.environ.get(LOG_LEVEL_ENV) or "INFO").strip().upper()
    if raw not in LOG_LEVELS:
        raise ConfigError(
            f"invalid log level {raw!r} (from {LOG_LEVEL_ENV} or --log-level): use one of {', '.join(LOG_LEVELS)}"
        )
    return getattr(logging, raw)


def command_jobs_allowed() -> bool:
    """External command jobs run arbitrary programs, so they stay off unless explicitly enabled."""
    return os.environ.get(ALLOW_COMMAND_JOBS_ENV, "").strip().lower() in ("1", "true", "yes")

"""Findings 2 and 8: writes never follow a symbolic link; state files are owner-only whatever the umask."""

from __future__ import annotations

import logging
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from orchestrator import lockfile
from orchestrator.config import Paths
from orchestrator.durable import append_line_durably, write_atomically
from orchestrator.history import HistoryEntry, RestartHistory
from orchestrator.logs import setup_logging
from orchestrator.store import StoreError, TaskStore


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    target = tmp_path / "outside.txt"
    target.write_text("precious\n")
    return target


def link(path: Path, target: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.symlink_to(target)
    return path


def entry() -> HistoryEntry:
    return HistoryEntry("2025-01-01T00:00:00", "manual_request", True, 1.0, None, True, True, 1, 2)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def test_history_linked_outside_is_not_appended_to(base_dir, outside):
    paths = Paths(base_dir)
    link(paths.history_file, outside)
    assert RestartHistory(paths).append(entry()) is False
    assert outside.read_text() == "precious\n"


def test_log_linked_outside_is_refused_naming_the_link(base_dir, outside):
    paths = Paths(base_dir)
    link(paths.log_file, outside)
    root = logging.getLogger()
    handlers = list(root.handlers)
    try:
        with pytest.raises(OSError, match="server.log is a symbolic link"):
            setup_logging(paths, logging.INFO, "test")
    finally:
        root.handlers[:] = handlers
    assert outside.read_text() == "precious\n"


def test_server_refuses_to_start_on_a_linked_log(base_dir, outside):
    paths = Paths(base_dir)
    link(paths.log_file, outside)
    started = subprocess.run(
        [sys.executable, "-m", "mcp_task_orchestrator.server", "--base-dir", str(base_dir)],
        capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert started.returncode == 2
    assert f"{paths.log_file} is a symbolic link" in started.stderr and "remove it" in started.stderr
    assert outside.read_text() == "precious\n"


@pytest.mark.parametrize("name", ["task_orchestrator.db", "task_orchestrator.db-wal"])
def test_database_files_linked_outside_are_refused(base_dir, outside, name):
    link(Paths(base_dir).root / name, outside)
    with pytest.raises(StoreError, match="symbolic link"):
        TaskStore(Paths(base_dir).database)
    assert outside.read_text() == "precious\n"


def test_a_linked_state_directory_is_refused(base_dir, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    paths = Paths(base_dir)
    link(paths.state_dir, elsewhere)
    assert RestartHistory(paths).append(entry()) is False
    assert list(elsewhere.iterdir()) == []


def test_atomic_write_through_a_planted_temp_link_is_refused(base_dir, outside):
    target = base_dir / "endpoint.json"
    link(target.with_name(f".endpoint.json.{os.getpid()}.tmp"), outside)
    with pytest.raises(OSError, match="symbolic link"):
        write_atomically(target, b"{}")
    assert outside.read_text() == "precious\n"


def test_state_files_are_owner_only_whatever_the_umask(base_dir, open_umask):
    paths = Paths(base_dir)
    root = logging.getLogger()
    handlers = list(root.handlers)
    try:
        setup_logging(paths, logging.INFO, "test")
        logging.getLogger("test").info("a line")
    finally:
        for handler in root.handlers:
            if handler not in handlers:
                handler.close()
        root.handlers[:] = handlers
    store = TaskStore(paths.database)
    try:
        store.write(lambda conn: conn.execute("INSERT INTO sessions VALUES ('s', 'c', NULL, 'now', 'now')"))
        lockfile.acquire(paths.lock_file)
        assert RestartHistory(paths).append(entry())
        files = [paths.database, paths.database.with_name("task_orchestrator.db-wal"), paths.log_file,
                 paths.lock_file, paths.history_file]  # fmt: skip
        assert {str(f): oct(mode(f)) for f in files} == {str(f): oct(0o600) for f in files}
        directories = [paths.root, paths.logs, paths.state_dir]
        assert {str(d): oct(mode(d)) for d in directories} == {str(d): oct(0o700) for d in directories}
    finally:
        store.close()
        lockfile.release(paths.lock_file)


def test_files_left_readable_by_an_older_version_become_owner_only(base_dir, open_umask):
    paths = Paths(base_dir)
    paths.state_dir.mkdir(parents=True, mode=0o755)
    paths.history_file.write_text("")
    paths.history_file.chmod(0o644)
    append_line_durably(paths.history_file, "{}")
    assert RestartHistory(paths).append(entry())
    assert (mode(paths.history_file), mode(paths.state_dir)) == (0o600, 0o700)

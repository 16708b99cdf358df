"""Crash-safe file writes: temp file, fsync, rename, fsync of the directory.

A reader sees either the old file or the new one, never a torn mix, and after this returns the
new file survives a power cut.
"""

from __future__ import annotations

import os
from pathlib import Path

from orchestrator.faultpoints import io_operation


def fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        io_operation("fsync", directory)
        os.fsync(fd)
    finally:
        os.close(fd)


def temp_name(path: Path) -> Path:
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


def remove_stale_temps(path: Path) -> list[str]:
    """Remove temp files of `path` left by processes that died mid-write (a kill -9 skips clean-up).

    A temp file carries its writer's pid; one whose writer is still alive may be in use and stays.
    """
    removed = []
    for temp in path.parent.glob(f".{path.name}.*.tmp"):
        writer = temp.name.removeprefix(f".{path.name}.").removesuffix(".tmp")
        if writer.isdigit() and not _alive(int(writer)):
            io_operation("unlink", temp)
            temp.unlink(missing_ok=True)
            removed.append(temp.name)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def write_synced(path: Path, data: bytes) -> None:
    """Write `data` to a new file and fsync it; on error the partial file is removed."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            view = memoryview(data)
            io_operation("write", path)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            io_operation("fsync", path)
            os.fsync(fd)
        finally:
            os.close(fd)
    except BaseException:
        path.unlink(missing_ok=True)
        raise


def write_atomically(path: Path, data: bytes) -> None:
    """Replace `path` with `data`; on any error the old file is untouched and no temp file remains."""
    temp = temp_name(path)
    write_synced(temp, data)
    try:
        io_operation("rename", path)
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    fsync_directory(path.parent)


def append_line_durably(path: Path, line: str) -> None:
    """Append one line and fsync it, so a history entry written before a crash is still there after."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        io_operation("write", path)
        os.write(fd, (line.rstrip("\n") + "\n").encode())
        io_operation("fsync", path)
        os.fsync(fd)
    finally:
        os.close(fd)

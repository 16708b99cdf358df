"""Crash-safe, private file writes: temp file, fsync, rename, fsync of the directory.

A reader sees either the old file or the new one, never a torn mix, and after this returns the
new file survives a power cut. Every file written here is opened without following a symbolic
link and is readable by its owner only (0600, directories 0700) whatever the umask: the state
directory holds task text, command lines and command output.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from orchestrator.errors import OrchestratorError
from orchestrator.faultpoints import ProcessExit, io_operation, reached_in_io

PRIVATE_FILE = 0o600
PRIVATE_DIRECTORY = 0o700
OTHERS = 0o077  # group and other bits: removed from what exists, never adding the owner's back
WRITE_CHUNK = 1 << 20  # a large file is written a MiB at a time, so a fault point can act between two


class SymlinkRefused(OrchestratorError, OSError):
    """A path the orchestrator writes is a symbolic link; writing through it could land anywhere."""

    def __init__(self, path: Path) -> None:
        try:
            target = f" (it points to {os.readlink(path)})"
        except OSError:
            target = ""
        super().__init__(
            errno.ELOOP,
            f"{path} is a symbolic link{target}; the orchestrator never writes through links: "
            "remove it (or point --base-dir at the real directory) and start again",
        )


def refuse_symlink(path: Path) -> None:
    if path.is_symlink():
        raise SymlinkRefused(path)


def open_private(path: Path, flags: int) -> int:
    """`os.open` for writing under the state directory: never through a link, and owner-only."""
    try:
        fd = os.open(path, flags | os.O_NOFOLLOW | os.O_CLOEXEC, PRIVATE_FILE)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise SymlinkRefused(path) from None
        raise
    try:
        mode = stat.S_IMODE(os.fstat(fd).st_mode)
        if mode & OTHERS:  # created earlier, under another umask
            os.fchmod(fd, mode & ~OTHERS)
    except BaseException:
        os.close(fd)
        raise
    return fd


def private_file(path: Path) -> None:
    """Create `path` empty if missing (for files another library opens, like SQLite's), owner-only."""
    os.close(open_private(path, os.O_WRONLY | os.O_CREAT))


def private_directory(path: Path) -> None:
    """Create `path` and its missing parents owner-only (0700); an existing one loses group and other access.

    A link in its place is refused, so nothing is written through it.
    """
    refuse_symlink(path)
    for directory in reversed([path, *path.parents]):
        if not directory.exists():
            try:
                os.mkdir(directory, PRIVATE_DIRECTORY)
            except FileExistsError:
                pass
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & OTHERS:
        os.chmod(path, mode & ~OTHERS)


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


def write_synced(path: Path, data: bytes, faultpoint: str | None = None) -> None:
    """Write `data` to a new file and fsync it; on error the partial file is removed.

    `faultpoint` names a point reached after each chunk written (a crash there leaves the partial file)."""
    try:
        fd = open_private(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        try:
            view, done = memoryview(data), 0
            io_operation("write", path)
            while view:
                written = os.write(fd, view[:WRITE_CHUNK])
                view, done = view[written:], done + written
                if faultpoint and view:
                    reached_in_io(faultpoint, done)
            io_operation("fsync", path)
            os.fsync(fd)
        finally:
            os.close(fd)
    except ProcessExit:  # the simulator's crash: a killed process removes nothing
        raise
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
    fd = open_private(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    try:
        io_operation("write", path)
        os.write(fd, (line.rstrip("\n") + "\n").encode())
        io_operation("fsync", path)
        os.fsync(fd)
    finally:
        os.close(fd)

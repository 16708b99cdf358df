"""Unpacking a field tarball: every member checked before anything is written, nothing outside the target.

A tarball comes from someone else's machine, so it is refused outright (and nothing extracted) if a
member is a link, a device or a FIFO, has an absolute path or a `..`, or if it would unpack to more
than the size limit.
"""

from __future__ import annotations

import tarfile
from pathlib import Path, PurePosixPath

from chaos.errors import HarnessError

MAX_BYTES = 4 << 30


class IncidentError(HarnessError, ValueError):
    """The input cannot be imported; the message says why and what to do."""


def is_tarball(path: Path) -> bool:
    return path.is_file() and path.name.endswith((".tar.gz", ".tgz"))


def unpack(tarball: Path, target: Path) -> None:
    """Extract `tarball` into the existing directory `target`, or refuse it whole (IncidentError)."""
    try:
        with tarfile.open(tarball, "r:gz") as archive:
            members = archive.getmembers()
            problems = [why for member in members if (why := _refusal(member))]
            total = sum(member.size for member in members)
            if total > MAX_BYTES:
                problems.append(f"it unpacks to {total} bytes, more than {MAX_BYTES}")
            if problems:
                raise IncidentError(f"{tarball}: refused, nothing extracted: " + "; ".join(problems[:5]))
            archive.extractall(target, members, filter="data")
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise IncidentError(
            f"{tarball}: not a readable .tar.gz ({exc}); give the .task_orchestrator/ directory itself, "
            "or pack it again with `tar czf field.tar.gz .task_orchestrator`"
        ) from None


def _refusal(member: tarfile.TarInfo) -> str | None:
    name = PurePosixPath(member.name)
    if name.is_absolute() or ".." in name.parts:
        return f"{member.name!r} points outside the directory"
    if not (member.isfile() or member.isdir()):
        return f"{member.name!r} is a link or special file"
    return None

"""Disk faults: no space left, a read-only file system, permission denied.

Real where the orchestrator runs confined (chaos.host.namespace): its state directory and its database
are separate size-capped tmpfs mounts in its own mount namespace, so they can be filled,
remounted read-only or made unwritable without the host noticing. Elsewhere the snapshot write
fails through the `snapshot.write` fault point with the same errno, and the Injection says why.
"""

from __future__ import annotations

import errno
import os
import stat
from abc import abstractmethod
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import Field

from chaos.faults.base import Fault, FaultContext, FaultError, FaultParams, Injection
from chaos.faults.points import ArmedPoint
from chaos.host.namespace import has_dac_override, our_mount, run_in_namespace, unview
from chaos.host.ownership import children

FILLER = ".chaos-filler"
PROBE = ".chaos-probe"
CHUNK = 1 << 20


def probe_write(directory: Path) -> str:
    """Write one page where the orchestrator would, as it would; the errno name, or 'writable'."""
    probe = directory / PROBE
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as exc:
        return errno.errorcode.get(exc.errno or 0, str(exc))
    try:
        os.write(fd, b"\0" * 4096)
        os.fsync(fd)
    except OSError as exc:
        return errno.errorcode.get(exc.errno or 0, str(exc))
    finally:
        os.close(fd)
        probe.unlink()
    return "writable"


def fill(directory: Path) -> int:
    """Fill the file system holding `directory` until not one more byte fits; return the bytes taken."""
    fd = os.open(directory / FILLER, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    written = 0
    try:
        free = os.statvfs(directory)
        try:
            os.posix_fallocate(fd, 0, free.f_bavail * free.f_frsize)
            written = free.f_bavail * free.f_frsize
        except OSError as exc:
            if exc.errno != errno.ENOSPC:
                raise
        os.lseek(fd, 0, os.SEEK_END)
        chunk = b"\0" * CHUNK
        while chunk:
            try:
                written += os.write(fd, chunk)
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
                chunk = chunk[: len(chunk) // 2]
    finally:
        os.close(fd)
    return written


class _DiskFault(Fault):
    """Real on the confined mounts; otherwise the snapshot write fails with `errno_name` at a fault point."""

    errno_name: ClassVar[str]

    def __init__(self, **params: Any):
        super().__init__(**params)
        self._armed: ArmedPoint | None = None

    async def inject(self, ctx: FaultContext) -> Injection:
        reason = "simulated run: no mounts or processes of its own" if ctx.simulated else self.why_not_real(ctx)
        if reason is None:
            return await self.inject_real(ctx)
        if not self.has_fallback():
            raise FaultError(f"{self.name} {self.params.model_dump()} cannot be injected and has no fallback: {reason}")
        self._armed = ArmedPoint(ctx, "snapshot.write", {"action": "error", "errno": self.errno_name})
        return self.record(self._armed.mechanism, False, reason, **self.params.model_dump())

    async def heal(self) -> None:
        await self.heal_real()
        if self._armed is not None:
            self._armed.disarm()
            self._armed = None

    def has_fallback(self) -> bool:
        return True

    def targets(self, ctx: FaultContext) -> list[Path]:
        """The directories the fault acts on, as the host reaches them."""
        return [ctx.paths.state_dir]

    def why_not_real(self, ctx: FaultContext) -> str | None:
        """Why the real mechanism is impossible here: it needs the confined tmpfs mounts."""
        pid = ctx.mount_namespace_pid
        if pid is None:
            return "the orchestrator does not run in a private mount namespace (start it confined)"
        missing = [str(unview(pid, p)) for p in self.targets(ctx) if our_mount(pid, unview(pid, p)) is None]
        if missing:
            return f"no tmpfs of this run is mounted at {', '.join(missing)} in the orchestrator's namespace"
        return None

    @abstractmethod
    async def inject_real(self, ctx: FaultContext) -> Injection: ...

    @abstractmethod
    async def heal_real(self) -> None: ...


class DiskFullParams(FaultParams):
    target: Literal["state_dir", "database", "both"] = "state_dir"


class DiskFull(_DiskFault):
    name = "disk_full"
    summary = "No space left on the file system of the state directory, the database, or both."
    guide_sections = ("issue-3.cause-1", "issue-3.solution-2", "issue-2.solution-3")
    expected_error_codes = ("RESTART_005",)
    mechanism = "fill a size-capped tmpfs mounted over the directory in the orchestrator's private mount namespace"
    fallback = "fault point snapshot.write raising ENOSPC (state_dir only)"
    Params = DiskFullParams
    errno_name = "ENOSPC"

    def __init__(self, **params: Any):
        super().__init__(**params)
        self._fillers: list[Path] = []

    def targets(self, ctx: FaultContext) -> list[Path]:
        return {
            "state_dir": [ctx.paths.state_dir],
            "database": [ctx.paths.root],
            "both": [ctx.paths.root, ctx.paths.state_dir],
        }[self.params.target]

    def has_fallback(self) -> bool:
        return self.params.target == "state_dir"

    @classmethod
    def sim_blocker(cls, params: dict[str, Any]) -> str | None:
        if params.get("target", "state_dir") != "state_dir":
            return "only the state directory can fail through a fault point; a full database needs the real tmpfs"
        return None

    async def inject_real(self, ctx: FaultContext) -> Injection:
        filled, probes = {}, {}
        for directory in self.targets(ctx):
            self._fillers.append(directory / FILLER)
            filled[directory.name] = fill(directory)
            probes[directory.name] = probe_write(directory)
        if set(probes.values()) != {"ENOSPC"}:
            raise FaultError(f"disk_full: the file system is filled, yet writes did not fail with ENOSPC: {probes}")
        return self.record(self.mechanism, True, target=self.params.target, filled_bytes=filled, probe=probes)

    async def heal_real(self) -> None:
        for filler in self._fillers:
            filler.unlink(missing_ok=True)
        self._fillers.clear()


class ReadOnly(_DiskFault):
    name = "read_only"
    summary = "The state directory's file system is read-only."
    guide_sections = ("issue-3.cause-1", "issue-2.solution-3")
    expected_error_codes = ("RESTART_005",)
    mechanism = "remount the state directory's tmpfs read-only inside the orchestrator's private mount namespace"
    fallback = "fault point snapshot.write raising EROFS"
    errno_name = "EROFS"

    def __init__(self, **params: Any):
        super().__init__(**params)
        self._remounted: tuple[int, Path] | None = None

    async def inject_real(self, ctx: FaultContext) -> Injection:
        pid = ctx.mount_namespace_pid
        assert pid is not None
        point = unview(pid, ctx.paths.state_dir)
        await run_in_namespace(pid, "mount", "-o", "remount,ro", str(point))
        self._remounted = (pid, point)
        probe = probe_write(ctx.paths.state_dir)
        if probe != "EROFS":
            raise FaultError(f"read_only: remounted, yet a write gave {probe}, not EROFS")
        return self.record(self.mechanism, True, mount=str(point), probe=probe)

    async def heal_real(self) -> None:
        if self._remounted is not None:
            pid, point = self._remounted
            if Path(f"/proc/{pid}").exists():
                await run_in_namespace(pid, "mount", "-o", "remount,rw", str(point))
            self._remounted = None


class PermissionDenied(_DiskFault):
    name = "permission_denied"
    summary = "The orchestrator may not write in its state directory."
    guide_sections = ("issue-3.cause-1", "RESTART_005")
    expected_error_codes = ("RESTART_005",)
    mechanism = "chmod 0555 the state directory, with the orchestrator running without CAP_DAC_OVERRIDE"
    fallback = "fault point snapshot.write raising EACCES"
    errno_name = "EACCES"

    def __init__(self, **params: Any):
        super().__init__(**params)
        self._restore: tuple[Path, int] | None = None

    def why_not_real(self, ctx: FaultContext) -> str | None:
        supervisor = ctx.supervisor_pid()
        if supervisor is None:
            return "no orchestrator process is running"
        privileged = [pid for pid in (supervisor, *children(supervisor)) if has_dac_override(pid)]
        if privileged:
            return f"pids {privileged} have CAP_DAC_OVERRIDE, so no permission can deny them (start it confined)"
        return None

    async def inject_real(self, ctx: FaultContext) -> Injection:
        state_dir = ctx.paths.state_dir
        mode = stat.S_IMODE(state_dir.stat().st_mode)
        self._restore = (state_dir, mode)
        state_dir.chmod(0o555)
        return self.record(self.mechanism, True, directory=state_dir.name, mode_before=oct(mode))

    async def heal_real(self) -> None:
        if self._restore is not None:
            directory, mode = self._restore
            if directory.exists():
                directory.chmod(mode)
            self._restore = None


class SlowIOParams(FaultParams):
    seconds: float = Field(12.0, gt=0, le=600, description="delay added to every snapshot write")


class SlowIO(Fault):
    name = "slow_io"
    summary = "Snapshot writes are slow enough to pass the restart timeout."
    guide_sections = ("issue-2.cause-1", "issue-2.symptom-1", "issue-6.symptom-1", "issue-2.solution-1")
    expected_error_codes = ("RESTART_004",)
    mechanism = "fault point snapshot.write delaying every snapshot write"
    Params = SlowIOParams
    WHY_NOT_REAL = (
        "a slow disk for real needs FUSE or device-mapper (dm-delay over a loop device); the harness uses "
        "no FUSE, and tmpfs cannot be slowed, so the delay is added where the snapshot is written"
    )

    def __init__(self, **params: Any):
        super().__init__(**params)
        self._armed: ArmedPoint | None = None

    async def inject(self, ctx: FaultContext) -> Injection:
        self._armed = ArmedPoint(ctx, "snapshot.write", {"action": "delay", "seconds": self.params.seconds})
        return self.record(self._armed.mechanism, False, self.WHY_NOT_REAL, seconds=self.params.seconds)

    async def heal(self) -> None:
        if self._armed is not None:
            self._armed.disarm()
            self._armed = None

"""A confined orchestrator: private mount namespace, state on size-capped tmpfs, no DAC override.

Disk faults need real file systems to fill, remount read-only and chmod, without touching the
host. So a confined supervisor starts inside its own mount namespace (`unshare --mount
--propagation private`; not as root, inside a user namespace of its own too, mapped to root there,
where the kernel allows it: `confinement_blocker` says why not and what it needs), where `.task_orchestrator/` (database, lock) and `server_state/` are two
separate tmpfs mounts with a size cap, and `logs/` is a bind mount of a host directory so the logs
outlive the run. Nothing is mounted on the host, and the mounts vanish with the namespace when
its last process exits. The supervisor (and so its workers) runs without CAP_DAC_OVERRIDE, so
file permissions bind it like any user. The harness sees the orchestrator's files through
`/proc/<pid>/root`, and changes mounts with `nsenter`.
"""

from __future__ import annotations

import functools
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import anyio

from chaos.host.ownership import MOUNT_SOURCE_PREFIX
from orchestrator.config import Paths

DATABASE_MOUNT = MOUNT_SOURCE_PREFIX + "task-orchestrator"
STATE_MOUNT = MOUNT_SOURCE_PREFIX + "server-state"
DROPPED_CAPABILITIES = "-dac_override,-dac_read_search,-fowner"
CAP_DAC_OVERRIDE_BIT = 1
USER_NAMESPACE = ["--user", "--map-root-user"]
NEEDS = (
    "run as root, or allow unprivileged user namespaces (sysctl user.max_user_namespaces > 0; "
    "kernel.unprivileged_userns_clone=1 on Debian kernels; kernel.apparmor_restrict_unprivileged_userns=0 on Ubuntu)"
)


def privileged() -> bool:
    return os.geteuid() == 0


def unshare_command() -> list[str]:
    """A private mount namespace: directly as root, else inside a user namespace of our own."""
    return ["unshare", *([] if privileged() else USER_NAMESPACE), "--mount", "--propagation", "private"]


@functools.cache
def confinement_blocker() -> str | None:
    """Why this harness cannot confine an orchestrator here, and what that needs (None: it can)."""
    return None if privileged() else user_namespace_refusal(("true",))


def user_namespace_refusal(probe: tuple[str, ...]) -> str | None:
    """Run `probe` inside an unprivileged user and mount namespace; why that failed (None: it ran)."""
    result = subprocess.run(
        ["unshare", *USER_NAMESPACE, "--mount", "--propagation", "private", "--", *probe],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if result.returncode == 0:
        return None
    why = result.stderr.strip() or f"exit status {result.returncode}"
    return f"confined: true needs a private mount namespace, and without root the kernel refuses one ({why}): {NEEDS}"


_CONFINE_SCRIPT = f"""set -e
mount -t tmpfs -o "size=$1,mode=0755" {DATABASE_MOUNT} "$3"
mkdir "$4"
mount -t tmpfs -o "size=$2,mode=0755" {STATE_MOUNT} "$4"
mkdir -p "$5" "$3/logs"
mount --bind "$5" "$3/logs"
shift 5
exec "$@"
"""


@dataclass(frozen=True)
class Confinement:
    database_fs_size: str = "64m"
    state_fs_size: str = "16m"

    def command(self, paths: Paths, host_logs: Path, argv: list[str]) -> list[str]:
        """`argv` wrapped: new mount namespace, the two tmpfs mounts, the logs bind mount, capabilities dropped."""
        paths.root.mkdir(parents=True, exist_ok=True)
        host_logs.mkdir(parents=True, exist_ok=True)
        return [
            *unshare_command(), "--",
            "sh", "-c", _CONFINE_SCRIPT, "chaos-confine",
            self.database_fs_size, self.state_fs_size,
            str(paths.root), str(paths.state_dir), str(host_logs),
            "setpriv", "--bounding-set", DROPPED_CAPABILITIES, "--inh-caps", DROPPED_CAPABILITIES, "--",
            *argv,
        ]  # fmt: skip


@dataclass(frozen=True)
class Mount:
    point: str
    fstype: str
    source: str
    options: str

    @property
    def read_only(self) -> bool:
        return "ro" in self.options.split(",")


def mounts(pid: int) -> list[Mount]:
    """The mounts as process `pid` sees them (its mount namespace)."""
    found = []
    for line in Path(f"/proc/{pid}/mountinfo").read_text().splitlines():
        before, after = line.split(" - ", 1)
        fstype, source, options = after.split()[:3]
        found.append(Mount(before.split()[4], fstype, source, before.split()[5] + "," + options))
    return found


def our_mount(pid: int, point: Path) -> Mount | None:
    """The mount at `point` in `pid`'s namespace if this harness made it (its source is ours)."""
    for mount in reversed(mounts(pid)):
        if mount.point == str(point):
            return mount if mount.source.startswith(MOUNT_SOURCE_PREFIX) else None
    return None


def view(pid: int, path: Path) -> Path:
    """`path` as process `pid` sees it, reachable from the host through /proc."""
    return Path(f"/proc/{pid}/root") / path.relative_to("/")


def unview(pid: int, path: Path) -> Path:
    """The name inside `pid`'s namespace of a path reached through `view` (as its mount table says it)."""
    root = Path(f"/proc/{pid}/root")
    return Path("/") / path.relative_to(root) if path.is_relative_to(root) else path


def entered(pid: int | None, argv: list[str]) -> list[str]:
    """`argv` run inside `pid`'s mount namespace (unchanged when there is none)."""
    if pid is None:
        return argv
    user = [] if privileged() else ["--user", "--preserve-credentials"]  # the namespace's owner, as its root
    return ["nsenter", "--target", str(pid), *user, "--mount", "--", *argv]


async def run_in_namespace(pid: int, *argv: str) -> None:
    """Run a command (a mount or remount) inside `pid`'s mount namespace; raise with its stderr on failure."""
    result = await anyio.run_process(entered(pid, list(argv)), check=False)
    if result.returncode != 0:
        raise OSError(f"nsenter {' '.join(argv)} failed ({result.returncode}): {result.stderr.decode().strip()}")


def has_dac_override(pid: int) -> bool:
    """Whether the process may write where file permissions say it may not (root's usual power)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("CapEff:"):
            return bool(int(line.split()[1], 16) >> CAP_DAC_OVERRIDE_BIT & 1)
    return True

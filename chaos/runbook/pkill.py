"""The `pkill` a runbook run sees: it reaches only processes this run started, in this run's directory.

A runbook says `pkill -f mcp_task_orchestrator`; on a shared machine that would end every
orchestrator of every user and run. Here the match is limited to processes carrying this run's
id (chaos.host.ownership) whose command line names $ORCH_BASE_DIR, and it waits (up to 15 s) until they
are gone, so the next block starts on a stopped server. Options: -f, -SIGNAL / -s SIGNAL; exit
status as pkill's: 0 some matched, 1 none.
"""

from __future__ import annotations

import os
import re
import signal
import sys
import time
from pathlib import Path

from chaos.host import ownership

WAIT_S = 15.0


def parse(argv: list[str]) -> tuple[signal.Signals, str]:
    signum, words = signal.SIGTERM, list(argv)
    pattern = None
    while words:
        word = words.pop(0)
        if word in ("-s", "--signal") and words:
            signum = _signal(words.pop(0))
        elif word == "-f":
            continue
        elif word.startswith("-") and len(word) > 1:
            signum = _signal(word[1:])
        else:
            pattern = word
    if pattern is None:
        raise SystemExit("pkill (runbook): no pattern given")
    return signum, pattern


def _signal(name: str) -> signal.Signals:
    if name.isdigit():
        return signal.Signals(int(name))
    return signal.Signals[name if name.startswith("SIG") else f"SIG{name}"]


def main(argv: list[str] | None = None) -> int:
    signum, pattern = parse(sys.argv[1:] if argv is None else argv)
    base = os.environ.get("ORCH_BASE_DIR")
    if not base:
        print("pkill (runbook): $ORCH_BASE_DIR is not set; refusing to match processes outside a run", file=sys.stderr)
        return 2
    mine = {os.getpid(), os.getppid()}
    matched = [
        pid
        for pid, command in ownership.processes_under(Path(base))
        if pid not in mine and re.search(pattern, command) and ownership.is_ours(pid, os.environ.get(ownership.RUN_ID_ENV, ""))
    ]
    for pid in matched:  # checked above against the run id in our environment (this process has an id of its own)
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            continue
        print(f"pkill (runbook): {signum.name} to pid {pid}")
    deadline = time.monotonic() + WAIT_S
    while any(ownership.process_state(pid) not in (None, "Z", "X") for pid in matched) and time.monotonic() < deadline:
        time.sleep(0.05)  # polling the kernel for the processes to be gone; no event tells us
    return 0 if matched else 1


if __name__ == "__main__":
    sys.exit(main())

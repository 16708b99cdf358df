"""Finding 7: the restart history is bounded, read from its tail once, never parsed whole again."""

from __future__ import annotations

import json

from orchestrator.config import Paths
from orchestrator.history import HistoryEntry, RestartHistory


def entry(n: int) -> HistoryEntry:
    return HistoryEntry(f"2025-01-01T00:00:{n:09d}", "manual_request", n % 2 == 0, 1.0, None, True, True, n, n + 1)


def test_a_huge_history_is_read_from_its_tail_and_compacted(base_dir):
    paths = Paths(base_dir)
    paths.state_dir.mkdir(parents=True)
    head = "not a history line\n" * 1000  # read whole, these would be counted as skipped
    lines = "".join(json.dumps(entry(n).__dict__, sort_keys=True) + "\n" for n in range(200_000))
    paths.history_file.write_text(head + lines)
    history = RestartHistory(paths)
    assert history.skipped_lines == 0, "only the file's tail is read"
    kept = history.entries()
    assert 0 < len(kept) <= 1000 and kept[-1].old_worker_pid == 199_999
    assert len(paths.history_file.read_text().splitlines()) == len(kept)


def test_appends_keep_the_file_bounded_and_entries_come_from_memory(base_dir):
    paths = Paths(base_dir)
    history = RestartHistory(paths)
    for n in range(2500):
        assert history.append(entry(n))
    assert len(paths.history_file.read_text().splitlines()) < 2000
    paths.history_file.unlink()  # nothing re-reads the file: a restart never parses it on the event loop
    summary = history.summary()
    assert summary["recent_restarts"][0]["timestamp"] == entry(2499).timestamp
    assert summary["total_restarts"] == 1000
    assert RestartHistory(paths).entries() == []

"""How the reports say counts and times, the same on the console and in report.html.

Counts in words lead with what matters ("2 of 11 scenarios failed, 8 passed, 1 skipped"), times
of day to the millisecond, durations as a person reads them (1m05s).
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

SEVERITY = ("failed", "error", "cancelled", "passed", "skipped")  # the first present leads the sentence
RANKS = {outcome: index for index, outcome in enumerate(SEVERITY)}
VERBS = {"failed": "failed", "error": "ended in error", "cancelled": "were cancelled", "passed": "passed", "skipped": "skipped"}


def rank(outcome: str) -> int:
    """Sort key: failures first, then errors, then the rest as SEVERITY lists them (an unknown one as cancelled)."""
    return RANKS.get(outcome, RANKS["cancelled"])


def counts_in_words(outcomes: list[str]) -> str:
    """["failed", "passed", "passed"] -> "1 of 3 scenarios failed, 2 passed"."""
    if not outcomes:
        return "no scenarios"
    counts = Counter(outcomes)
    ordered = sorted(counts, key=rank)
    lead, rest = ordered[0], ordered[1:]
    noun = "scenario" if len(outcomes) == 1 else "scenarios"
    share = "all" if counts[lead] == len(outcomes) > 1 else f"{counts[lead]} of"
    said = f"{share} {len(outcomes)} {noun} {VERBS.get(lead, lead)}"
    return ", ".join([said, *(f"{counts[o]} {VERBS.get(o, o)}" for o in rest)])


def time_of(moment: float) -> str:
    """Epoch seconds -> "2026-01-01 00:00:00.100 UTC"."""
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + " UTC"


def time_of_iso(stamp: str) -> str:
    """An ISO timestamp from a journal (microseconds) -> to the millisecond, as time_of; unparsable: as it is."""
    try:
        return time_of(datetime.fromisoformat(stamp).timestamp())
    except (TypeError, ValueError):
        return str(stamp)


def duration(seconds: float) -> str:
    """4.2 -> "4.2s"; 65 -> "1m05s"; 3725 -> "1h02m05s"."""
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"

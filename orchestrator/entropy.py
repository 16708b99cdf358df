"""Where the orchestrator draws randomness: the ids it makes up.

Live, ids are random (uuid4). The simulator installs a seeded source, so a replay of a run makes
the same ids and writes the same journal.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

_source: random.Random | None = None


def new_id() -> str:
    """32 hex digits, like `uuid4().hex`."""
    if _source is None:
        return uuid.uuid4().hex
    return f"{_source.getrandbits(128):032x}"


@contextmanager
def seeded(source: random.Random) -> Iterator[None]:
    global _source
    previous, _source = _source, source
    try:
        yield
    finally:
        _source = previous

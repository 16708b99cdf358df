"""Security regression tests: each test names the finding of issue 17 it guards."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest


@pytest.fixture
def open_umask() -> Iterator[None]:
    """The most permissive umask, so a file's mode is what the code asked for, nothing hides it."""
    previous = os.umask(0)
    try:
        yield
    finally:
        os.umask(previous)

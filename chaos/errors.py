"""The harness's own errors: one root, so a caller can tell the harness refusing something on purpose
(a bad scenario, fault, journal, runbook or incident) from a bug or an error of the orchestrator."""

from __future__ import annotations


class HarnessError(Exception):
    """Root of every error the harness raises on purpose, each of which says what to do next."""


def unwrapped(exc: BaseException) -> BaseException:
    """The error inside the task-group wrappers it passed through (each wraps it in a group of one)."""
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return exc

"""The fault registry as scenarios see it: names and parameters checked at validation, faults made at run.

The registry itself (`chaos.faults.create` / `catalogue`) belongs to the fault classes; this is
the one place that imports it, so validation can say clearly when it is missing, and tests can
substitute a registry of their own with `use`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

Create = Callable[..., Any]
_override: list[tuple[Create, Callable[[], list[dict[str, Any]]]]] = []


@contextmanager
def use(create: Create, catalogue: Callable[[], list[dict[str, Any]]]) -> Iterator[None]:
    """Within the block, scenarios resolve faults with `create` and `catalogue` instead of chaos.faults."""
    _override.append((create, catalogue))
    try:
        yield
    finally:
        _override.pop()


def _registry() -> tuple[Create, Callable[[], list[dict[str, Any]]]]:
    if _override:
        return _override[-1]
    from chaos import faults

    return faults.create, _catalogue


@functools.cache
def _catalogue() -> list[dict[str, Any]]:
    """chaos.faults' catalogue, built once: it renders every fault's parameter schema, and validating
    a scenario asks for it at every `inject`."""
    from chaos import faults

    return faults.catalogue()


def names() -> list[str]:
    return sorted(entry["name"] for entry in _registry()[1]())


def unknown_fault(name: str) -> str | None:
    """Why `name` is not a usable fault, or None."""
    try:
        known = names()
    except (ImportError, AttributeError) as exc:
        return f"the fault registry chaos.faults could not be loaded ({exc}); faults cannot be checked or injected"
    if name in known:
        return None
    return f"unknown fault {name!r}; known faults: {', '.join(known) or 'none'} (python -m chaos faults describes them)"


def bad_params(name: str, params: dict[str, Any]) -> str | None:
    """Why these parameters do not fit the fault, or None (also None when the fault itself is unknown)."""
    if unknown_fault(name):
        return None
    try:
        create(name, params)
    except ValueError as exc:  # FaultError is a ValueError
        return str(exc)
    return None


def create(name: str, params: dict[str, Any]) -> Any:
    return _registry()[0](name, **params)

"""Every error the harness raises on purpose shares one root, HarnessError (chaos/errors.py)."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import chaos
from chaos.errors import HarnessError, unwrapped

# Raised to end a search part early: a BaseException on purpose, so that hypothesis does not take it
# for a failure of the schedule it interrupts.
NOT_ERRORS = {"chaos.explore.parallel.PartStopped"}


def harness_exceptions() -> dict[str, type[BaseException]]:
    """Every exception class defined in a module of the chaos package, by dotted name."""
    found = {}
    for module_info in pkgutil.walk_packages(chaos.__path__, "chaos."):
        if module_info.name.endswith("__main__"):
            continue  # importing it runs the CLI
        module = importlib.import_module(module_info.name)
        for _, value in inspect.getmembers(module, inspect.isclass):
            if issubclass(value, BaseException) and value.__module__ == module.__name__:
                found[f"{value.__module__}.{value.__qualname__}"] = value
    return found


def test_every_harness_error_derives_from_harness_error():
    found = harness_exceptions()
    assert len(found) > 15  # the walk reached every package
    outside = sorted(name for name, cls in found.items() if not issubclass(cls, HarnessError) and name not in NOT_ERRORS)
    assert outside == [], f"derive these from chaos.errors.HarnessError: {outside}"
    assert all(name in found for name in NOT_ERRORS)


def test_unwrapped_finds_the_error_inside_groups_of_one():
    inner = ValueError("the cause")
    assert unwrapped(ExceptionGroup("outer", [ExceptionGroup("inner", [inner])])) is inner
    two = ExceptionGroup("two", [inner, KeyError("other")])
    assert unwrapped(two) is two  # a group of several is the error itself

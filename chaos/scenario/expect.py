"""Checking a response against a step's expectations; every mismatch is reported, not just the first.

A matcher is either a plain value (the field equals it) or a mapping of conditions, all of which
must hold. Equality is JSON equality: 1 equals 1.0, but true never equals 1.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from chaos.scenario.model import Operators, Range
from chaos.scenario.values import PathMissing, resolve, substitute


@dataclass(frozen=True)
class Mismatch:
    path: str
    expected: str
    actual: str
    loc: tuple[str | int, ...] = ()

    def __str__(self) -> str:
        return f"{self.path}: expected {self.expected}, got {self.actual}"


def conditions(matcher: Any) -> dict[str, Any]:
    """A validated matcher as a plain {condition: value} mapping."""
    if isinstance(matcher, Operators):
        return {
            name: value.model_dump(exclude_none=True) if isinstance(value, Range) else value
            for name in matcher.model_fields_set
            for value in [getattr(matcher, name)]
        }
    return {"equals": matcher}


def expectations_for(expect: Mapping[str, Any], error_code: str | None, default: Mapping[str, Any] | None = None) -> dict[str, dict[str, Any]]:
    """A step's expectations with the error_code shorthand expanded (and a default when it says nothing)."""
    result = {path: conditions(matcher) for path, matcher in expect.items()}
    if error_code:
        result.setdefault("success", {"equals": False})
        result.setdefault("error_code", {"equals": error_code})
    if not result and default:
        result = {path: conditions(matcher) for path, matcher in default.items()}
    return result


def check(response: Any, expected: Mapping[str, Mapping[str, Any]], scope: Mapping[str, Any], loc: tuple = ()) -> list[Mismatch]:
    mismatches = []
    for path, conds in expected.items():
        conds = substitute(dict(conds), scope)
        try:
            actual, present = resolve(response, path), True
        except PathMissing as exc:
            actual, present, missing = None, False, str(exc)
        for name, want in conds.items():
            if name == "exists":
                if present != want:
                    got = f"absent ({missing})" if not present else f"present: {show(actual)}"
                    mismatches.append(Mismatch(path, "present" if want else "absent", got, (*loc, path)))
                continue
            if not present:
                mismatches.append(Mismatch(path, describe(name, want), f"absent ({missing})", (*loc, path)))
                continue
            if not holds(name, want, actual):
                mismatches.append(Mismatch(path, describe(name, want), show(actual), (*loc, path)))
    return mismatches


def same(a: Any, b: Any) -> bool:
    """JSON equality: booleans are not numbers, numbers compare by value, containers deeply."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return a == b


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _within(value: float, bounds: Mapping[str, Any]) -> bool:
    low, high = bounds.get("min"), bounds.get("max")
    return (low is None or value >= low) and (high is None or value <= high)


def holds(name: str, want: Any, actual: Any) -> bool:
    if name == "equals":
        return same(actual, want)
    if name == "not_equals":
        return not same(actual, want)
    if name == "one_of":
        return any(same(actual, option) for option in want)
    if name == "regex":
        return isinstance(actual, str) and re.search(want, actual) is not None
    if name == "range":
        return _number(actual) and _within(actual, want)
    if name == "length":
        if not isinstance(actual, list | dict | str):
            return False
        return len(actual) == want if isinstance(want, int) else _within(len(actual), want)
    if name == "contains":
        if isinstance(actual, str):
            return isinstance(want, str) and want in actual
        return isinstance(actual, list) and any(same(item, want) for item in actual)
    raise ValueError(f"unknown condition {name!r}")


def _bounds(bounds: Mapping[str, Any]) -> str:
    low, high = bounds.get("min"), bounds.get("max")
    return f"{'' if low is None else low}..{'' if high is None else high}"


def describe(name: str, want: Any) -> str:
    if name == "range":
        return f"a number in {_bounds(want)}"
    if name == "length":
        return f"length {want if isinstance(want, int) else _bounds(want)}"
    if name == "regex":
        return f"text matching /{want}/"
    if name == "one_of":
        return "one of " + ", ".join(show(option) for option in want)
    return {"equals": "", "not_equals": "not ", "contains": "containing "}[name] + show(want)


def show(value: Any, limit: int = 300) -> str:
    """A value as it reads in a failure message: JSON-like, cut to `limit` characters."""
    text = json.dumps(value, default=str, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 3] + "..."

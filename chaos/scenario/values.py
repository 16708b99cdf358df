"""Addressing values inside responses by dotted path, and `${...}` substitution from saved values.

One path syntax serves expectations (`current_status.phase`), `save` (`phases.-1.phase`) and
substitution (`${saved.first_task.id}`): keys separated by dots, list items by index, negative
indexes counting from the end.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from chaos.errors import HarnessError

SUBSTITUTION = re.compile(r"\$\{([^}]*)\}")
WHOLE = re.compile(r"\$\{([^}]*)\}")  # used with fullmatch: "${x}" alone takes the value, "${x}\n" is text
NAMESPACES = ("saved", "run")


class PathMissing(HarnessError, LookupError):
    """The path leads nowhere in this value; the message says how far it got and what was there."""


class SubstitutionError(HarnessError, LookupError):
    """A `${...}` names something that was never saved."""


def resolve(data: Any, path: str) -> Any:
    current = data
    walked: list[str] = []
    for part in path.split(".") if path else []:
        if isinstance(current, Mapping):
            if part not in current:
                keys = ", ".join(sorted(map(str, current))) or "none"
                raise PathMissing(f"no {part!r} in {_where(walked)} (keys there: {keys})")
            current = current[part]
        elif isinstance(current, list):
            try:
                current = current[int(part)]
            except ValueError:
                raise PathMissing(f"{_where(walked)} is a list; use an index, not {part!r}") from None
            except IndexError:
                raise PathMissing(f"{_where(walked)} has {len(current)} item(s); no index {part}") from None
        else:
            raise PathMissing(f"{_where(walked)} is {type(current).__name__} {current!r}, not a mapping or list")
        walked.append(part)
    return current


def _where(walked: list[str]) -> str:
    return ".".join(walked) if walked else "the response"


def substitute(value: Any, scope: Mapping[str, Any]) -> Any:
    """`value` with every `${ns.path}` replaced; a string that is only `${...}` takes the value's type."""
    if isinstance(value, str):
        whole = WHOLE.fullmatch(value)
        if whole:
            return _lookup(whole.group(1), scope)
        return SUBSTITUTION.sub(lambda m: _text(_lookup(m.group(1), scope)), value)
    if isinstance(value, list):
        return [substitute(item, scope) for item in value]
    if isinstance(value, dict):
        return {key: substitute(item, scope) for key, item in value.items()}
    return value


def _lookup(expression: str, scope: Mapping[str, Any]) -> Any:
    namespace, _, rest = expression.strip().partition(".")
    if namespace not in scope or not rest:
        raise SubstitutionError(f"${{{expression}}}: write ${{saved.NAME}} or ${{run.base_dir}}")
    name = rest.split(".")[0]
    if name not in scope[namespace]:
        known = ", ".join(sorted(scope[namespace])) or "none"
        raise SubstitutionError(f"${{{expression}}}: nothing called {name!r} in {namespace} (there: {known})")
    try:
        return resolve(scope[namespace], rest)
    except PathMissing as exc:
        raise SubstitutionError(f"${{{expression}}}: {exc}") from None


def _text(value: Any) -> str:
    return value if isinstance(value, str) else str(value).lower() if isinstance(value, bool) else str(value)


def references(value: Any) -> Iterator[str]:
    """Every `${...}` expression inside a raw (unvalidated) value."""
    if isinstance(value, str):
        yield from (match.group(1).strip() for match in SUBSTITUTION.finditer(value))
    elif isinstance(value, list):
        for item in value:
            yield from references(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from references(item)

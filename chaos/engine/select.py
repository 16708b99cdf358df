"""`-k EXPR`: choose scenarios by keyword, as pytest does.

A keyword matches when it is a case-insensitive substring of the scenario's name or file, or of
one of its tags, guide ids or error codes; `and`, `or`, `not` and parentheses combine them.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from chaos.coverage import covered_ids
from chaos.scenario import Loaded
from chaos.scenario.evidence import proven

TOKEN = re.compile(r"\s*(\(|\)|[^\s()]+)")


class ExpressionError(ValueError):
    """A malformed -k expression; the message says where."""


def keywords(loaded: Loaded) -> list[str]:
    scenario = loaded.scenario
    assert scenario is not None
    return [scenario.name, loaded.source.name, *scenario.tags, *dict.fromkeys([*covered_ids(scenario), *proven(scenario)])]


def compile_expression(expression: str) -> Callable[[list[str]], bool]:
    tokens = TOKEN.findall(expression)
    position = 0

    def peek() -> str | None:
        return tokens[position] if position < len(tokens) else None

    def take() -> str:
        nonlocal position
        if position >= len(tokens):
            raise ExpressionError(f"-k {expression!r}: ends too early")
        position += 1
        return tokens[position - 1]

    def disjunction() -> Callable[[list[str]], bool]:
        left = conjunction()
        while peek() == "or":
            take()
            left = (lambda a, b: lambda words: a(words) or b(words))(left, conjunction())
        return left

    def conjunction() -> Callable[[list[str]], bool]:
        left = negation()
        while peek() == "and":
            take()
            left = (lambda a, b: lambda words: a(words) and b(words))(left, negation())
        return left

    def negation() -> Callable[[list[str]], bool]:
        if peek() == "not":
            take()
            inner = negation()
            return lambda words: not inner(words)
        token = take()
        if token == "(":
            inner = disjunction()
            if take() != ")":
                raise ExpressionError(f"-k {expression!r}: missing ')'")
            return inner
        if token in (")", "and", "or"):
            raise ExpressionError(f"-k {expression!r}: unexpected {token!r}")
        needle = token.lower()
        return lambda words: any(needle in word.lower() for word in words)

    matcher = disjunction()
    if peek() is not None:
        raise ExpressionError(f"-k {expression!r}: unexpected {peek()!r}")
    return matcher


def select(loaded: list[Loaded], expression: str | None) -> list[Loaded]:
    if not expression:
        return loaded
    matches = compile_expression(expression)
    return [item for item in loaded if matches(keywords(item))]

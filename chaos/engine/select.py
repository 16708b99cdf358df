"""Choosing scenarios: `-k EXPR` by keyword, as pytest does, and `--shard K/N`, one CI job's part.

A keyword matches when it is a case-insensitive substring of the scenario's name or file, or of
one of its tags, guide ids or error codes; `and`, `or`, `not` and parentheses combine them.

A shard is one of N groups of about equal expected time, computed from nothing but the selection
and a durations file given to every job alike, so the N jobs of a matrix agree without talking:
each scenario is in exactly one group.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable

from chaos.errors import HarnessError
from chaos.guide.coverage import covered_ids
from chaos.scenario import Loaded
from chaos.scenario.evidence import proven

TOKEN = re.compile(r"\s*(\(|\)|[^\s()]+)")


class ExpressionError(HarnessError, ValueError):
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


# -- --shard K/N: one CI job's part of the selection -------------------------------------------
SHARD = re.compile(r"\s*(\d+)\s*/\s*(\d+)\s*")


def parse_shard(text: str) -> tuple[int, int]:
    """`K/N` -> (K, N), for argparse: the K-th of N parts, K counted from 1 (as CI matrix indexes are)."""
    match = SHARD.fullmatch(text)
    if match is None:
        raise argparse.ArgumentTypeError(f"expected K/N (the K-th of N parts, e.g. 1/2), got {text!r}")
    part, parts = int(match.group(1)), int(match.group(2))
    if not 1 <= part <= parts:
        raise argparse.ArgumentTypeError(f"K must be in 1..N, got {part}/{parts}")
    return part, parts


def expected_seconds(loaded: list[Loaded], durations: dict[str, float]) -> list[float]:
    """How long each scenario should take: its recorded duration; one never recorded, the mean of the
    recorded ones; with none recorded at all, its file's size in bytes (a longer story takes longer).
    Every input is in the repository or the durations file, so every job of a matrix computes the same."""
    names = [item.scenario.name for item in loaded if item.scenario is not None]
    known = [durations[name] for name in names if name in durations]
    if not known:
        return [float(item.source.path.stat().st_size) for item in loaded]
    mean = sum(known) / len(known)
    return [durations.get(name, mean) for name in names]


def partition(loaded: list[Loaded], parts: int, durations: dict[str, float]) -> list[list[int]]:
    """Indexes of `loaded` in `parts` groups of about equal expected time: longest first, each into the
    group with the least so far (ties: the lower group; equal times: by name), then in file order."""
    weights = expected_seconds(loaded, durations)
    names = [item.scenario.name if item.scenario is not None else "" for item in loaded]
    totals = [0.0] * parts
    groups: list[list[int]] = [[] for _ in range(parts)]
    for index in sorted(range(len(loaded)), key=lambda i: (-weights[i], names[i])):
        lightest = min(range(parts), key=lambda group: (totals[group], group))
        totals[lightest] += weights[index]
        groups[lightest].append(index)
    return [sorted(group) for group in groups]


def shard(loaded: list[Loaded], part: int, parts: int, durations: dict[str, float]) -> list[Loaded]:
    """The `part`-th (from 1) of `parts` groups of `partition`."""
    return [loaded[index] for index in partition(loaded, parts, durations)[part - 1]]

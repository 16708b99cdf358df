"""Reading a scenario file into plain data while remembering where each value was written.

PyYAML's composer gives every node a start mark; building the values from the node tree
ourselves (with the safe constructor for scalars) lets every later error name file:line. Nothing
is ever constructed with an unsafe loader. Timestamps stay strings: a scenario compares JSON
values, and JSON has no dates. Duplicate keys, which YAML would silently collapse, are errors.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from chaos.errors import HarnessError

Loc = tuple[str | int, ...]


_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's parser when present: same nodes, faster


class _Loader(_SafeLoader):  # type: ignore[misc,valid-type]
    """The safe loader without the timestamp resolver (dates stay strings)."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


@dataclass(frozen=True)
class Problem:
    """One thing wrong in a file, where it is, and what was expected instead."""

    file: str
    line: int
    column: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.message}"


@dataclass
class Source:
    """A parsed file: its data, the line and column of every value, and problems found on the way."""

    path: Path
    data: Any = None
    marks: dict[Loc, tuple[int, int]] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    @property
    def name(self) -> str:
        return display_path(self.path)

    def position(self, loc: Loc) -> tuple[int, int]:
        """Line and column of `loc`, or of its nearest ancestor that was written in the file."""
        for end in range(len(loc), -1, -1):
            if loc[:end] in self.marks:
                return self.marks[loc[:end]]
        return (1, 1)

    def line(self, loc: Loc) -> int:
        return self.position(loc)[0]

    def problem(self, loc: Loc, message: str) -> Problem:
        line, column = self.position(loc)
        return Problem(self.name, line, column, message)


def dotted(loc: Loc) -> str:
    """A location as the reader would write it: steps[3].expect.phase."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "scenario"


def display_path(path: Path) -> str:
    """The path relative to the working directory when it is inside it (shorter, and clickable)."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def read_source(path: Path, text: str | None = None) -> Source:
    source = Source(path)
    try:
        if text is None:
            text = path.read_text(encoding="utf-8")
        loader = _Loader(text)
        try:
            node = loader.get_single_node()
        finally:
            loader.dispose()
        if node is None:
            source.problems.append(Problem(source.name, 1, 1, "the file is empty: a scenario is a mapping with name, steps, ..."))
            return source
        source.marks[()] = (node.start_mark.line + 1, node.start_mark.column + 1)
        source.data = _Builder(source).build(node, ())
    except _Refused as refused:
        source.problems.append(refused.problem)
    except (OSError, UnicodeDecodeError) as exc:
        source.problems.append(Problem(source.name, 1, 1, f"cannot read the file: {exc}"))
    except yaml.MarkedYAMLError as exc:  # syntax, or a tag the safe constructor refuses
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        what = " ".join(part for part in (exc.context, exc.problem) if part)
        source.problems.append(Problem(source.name, line, column, f"not valid YAML: {what}"))
    except yaml.YAMLError as exc:
        source.problems.append(Problem(source.name, 1, 1, f"not valid YAML: {exc}"))
    return source


MAX_REPEATED = 100_000  # values the aliases of a file repeat; what it spells out is bounded by its size
MAX_DEPTH = 100
_MERGE = "tag:yaml.org,2002:merge"


class _Refused(HarnessError):
    """The file cannot be built safely (too big, too deep, or containing itself); one problem says why."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(str(problem))
        self.problem = problem


class _Builder:
    """Builds plain values from the node tree, each aliased node once.

    An alias names the very node of its anchor, so a file of a few hundred bytes can repeat one
    node exponentially many times, or put a node inside itself. Building each node once, counting
    what every alias repeats, and refusing a node found inside itself keeps a hostile file to a
    clear problem in milliseconds instead of gigabytes or a RecursionError. Only what aliases
    repeat is capped: a long file that spells everything out (a soak of 10,000 events) is no bomb.
    """

    def __init__(self, source: Source) -> None:
        self.source = source
        self.constructor = _Loader("")
        self.built: dict[int, tuple[Any, int]] = {}  # id(node) -> (value, values it expands to)
        self.open: set[int] = set()
        self.values = 0  # built so far, each node once
        self.repeated = 0  # values the aliases repeated

    def refuse(self, loc: Loc, message: str) -> _Refused:
        return _Refused(self.source.problem(loc, message))

    def repeat(self, loc: Loc, values: int) -> None:
        self.repeated += values
        if self.repeated > MAX_REPEATED:
            raise self.refuse(
                loc,
                f"the file expands to more than {MAX_REPEATED} values through its aliases (an alias repeats "
                "everything its anchor names); write the values out or use fewer aliases",
            )

    def build(self, node: yaml.Node, loc: Loc) -> Any:
        key = id(node)
        if key in self.built:
            value, size = self.built[key]
            self.repeat(loc, size)
            return value
        if key in self.open:
            raise self.refuse(
                loc, f"this alias names a value that contains it (anchor on line {node.start_mark.line + 1})"
            )
        if len(loc) > MAX_DEPTH:
            raise self.refuse(loc, f"values are nested more than {MAX_DEPTH} levels deep")
        start = self.values + self.repeated
        self.values += 1
        self.open.add(key)
        try:
            value = self._construct(node, loc)
        finally:
            self.open.discard(key)
        self.built[key] = (value, self.values + self.repeated - start)
        return value

    def _construct(self, node: yaml.Node, loc: Loc) -> Any:
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, loc)
        if isinstance(node, yaml.SequenceNode):
            items = []
            for index, item in enumerate(node.value):
                self.source.marks[(*loc, index)] = (item.start_mark.line + 1, item.start_mark.column + 1)
                items.append(self.build(item, (*loc, index)))
            return items
        return self.constructor.construct_object(node)

    def _mapping(self, node: yaml.MappingNode, loc: Loc) -> dict[str, Any]:
        source = self.source
        result: dict[str, Any] = {}
        merged: dict[str, Any] = {}
        for key_node, value_node in node.value:
            where = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            if key_node.tag == _MERGE:  # `<<: *anchor`: keys written here win over merged ones
                for name, value in self._merge_sources(value_node, loc).items():
                    merged.setdefault(name, value)
                continue
            key = self.constructor.construct_object(key_node) if isinstance(key_node, yaml.ScalarNode) else None
            if not isinstance(key, str):
                source.problems.append(Problem(source.name, *where, "keys must be text; quote it"))
                continue
            if key in result:
                first = source.marks[(*loc, key)][0]
                source.problems.append(
                    Problem(source.name, *where, f"duplicate key {key!r} (first written on line {first}); keep one")
                )
                continue
            source.marks[(*loc, key)] = where  # a key's own line reads best in messages
            result[key] = self.build(value_node, (*loc, key))
        return {**result, **{name: value for name, value in merged.items() if name not in result}}

    def _merge_sources(self, node: yaml.Node, loc: Loc) -> dict[str, Any]:
        merged: dict[str, Any] = {}
        for item in node.value if isinstance(node, yaml.SequenceNode) else [node]:
            value = self.build(item, loc)
            if not isinstance(value, dict):
                raise self.refuse(loc, "`<<` merges mappings only")
            for name, entry in value.items():
                merged.setdefault(name, entry)
        return merged

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
        source.data = _build(node, (), source, _Loader(""))
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


def _build(node: yaml.Node, loc: Loc, source: Source, constructor: Any) -> Any:
    if isinstance(node, yaml.MappingNode):
        constructor.flatten_mapping(node)
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            where = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            key = constructor.construct_object(key_node) if isinstance(key_node, yaml.ScalarNode) else None
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
            result[key] = _build(value_node, (*loc, key), source, constructor)
        return result
    if isinstance(node, yaml.SequenceNode):
        items = []
        for index, item in enumerate(node.value):
            source.marks[(*loc, index)] = (item.start_mark.line + 1, item.start_mark.column + 1)
            items.append(_build(item, (*loc, index), source, constructor))
        return items
    return constructor.construct_object(node)

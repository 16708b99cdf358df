"""Which project module imports which: read from the source with `ast`, nothing is imported.

`read_imports(root, packages)` walks every `.py` file of the named packages under `root` and
returns one `Import` per statement that names a project module:

- `import a.b.c` is an edge to `a.b.c` (or to the longest prefix of it that is a project module);
- `from a.b import c` is an edge to `a.b.c` when `c` is a submodule, otherwise to `a.b`;
- relative imports (`from .x import y`, `from .. import z`) are resolved against the importer's package.

The parent packages that Python also runs on the way (`a`, `a.b` for `import a.b.c`) are not
edges: counting them would make every package `__init__` that re-exports a submodule look like
a circle with each sibling of it.

An import under `if TYPE_CHECKING:` (or `typing.TYPE_CHECKING`) never runs, so it is not read at
all (its `else:` branch is). An import inside a function body runs when the function is called;
it is read, with `lazy=True`. Imports spelled as strings (`importlib.import_module("a.b")`) are
not seen.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Import:
    importer: str  # dotted module name, `a.b` for a/b/__init__.py
    imported: str
    path: str  # the importer's file, relative to the root, with forward slashes
    line: int
    lazy: bool  # inside a function: runs when the function does, not when the module loads


def module_files(root: Path, packages: Iterable[str]) -> dict[str, Path]:
    """Every module of the packages, by dotted name."""
    modules: dict[str, Path] = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if "__pycache__" in parts:
                continue
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(parts)] = path
    return modules


def read_imports(root: Path, packages: Iterable[str]) -> list[Import]:
    modules = module_files(root, packages)
    found: list[Import] = []
    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        relative = path.relative_to(root).as_posix()
        for node, lazy in _import_statements(tree.body, lazy=False):
            for target in _targets(node, name, is_package, modules):
                found.append(Import(name, target, relative, node.lineno, lazy))
    return found


def _import_statements(
    body: list[ast.stmt], *, lazy: bool
) -> Iterable[tuple[ast.Import | ast.ImportFrom, bool]]:
    """The import statements that can run, each with whether it sits inside a function."""
    for node in body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node, lazy
        elif isinstance(node, ast.If) and _is_type_checking(node.test):
            yield from _import_statements(node.orelse, lazy=lazy)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            yield from _import_statements(node.body, lazy=True)
        else:
            # Any other statement with a body (class, if, try, with, for, while, match):
            # its nested statements run when it does.
            for field in ("body", "orelse", "finalbody", "handlers", "cases"):
                for child in getattr(node, field, []):
                    if isinstance(child, ast.stmt):
                        yield from _import_statements([child], lazy=lazy)
                    elif isinstance(child, ast.excepthandler | ast.match_case):
                        yield from _import_statements(child.body, lazy=lazy)


def _is_type_checking(test: ast.expr) -> bool:
    if isinstance(test, ast.Name):
        return test.id == "TYPE_CHECKING"
    return isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"


def _targets(
    node: ast.Import | ast.ImportFrom, importer: str, is_package: bool, modules: dict[str, Path]
) -> list[str]:
    if isinstance(node, ast.Import):
        return [m for alias in node.names if (m := _longest_module(alias.name, modules))]
    if node.level:
        package = importer.split(".") if is_package else importer.split(".")[:-1]
        if node.level > 1:
            package = package[: -(node.level - 1)]
        base = ".".join([*package, node.module] if node.module else package)
    else:
        base = node.module or ""
    targets: list[str] = []
    for alias in node.names:
        if f"{base}.{alias.name}" in modules:
            targets.append(f"{base}.{alias.name}")
        elif (module := _longest_module(base, modules)) and module not in targets:
            targets.append(module)
    return targets


def _longest_module(dotted: str, modules: dict[str, Path]) -> str | None:
    parts = dotted.split(".")
    while parts:
        if ".".join(parts) in modules:
            return ".".join(parts)
        parts.pop()
    return None


def cycles(edges: Iterable[tuple[str, str]]) -> list[list[list[str]]]:
    """Every strongly connected component of more than one module, and every module importing
    itself, smallest first. Each is given as circles that go round it, each circle a list of
    modules in import order (the first one is imported back by the last): the shortest circle
    through each of its modules, without repeats. A plain circle a -> b -> c -> a is one circle."""
    graph: dict[str, set[str]] = {}
    for a, b in edges:
        graph.setdefault(a, set()).add(b)
        graph.setdefault(b, set())
    found = []
    for component in _strongly_connected(graph):
        member = next(iter(component))
        if len(component) == 1 and member not in graph[member]:
            continue
        circles: list[list[str]] = []
        for start in sorted(component):
            circle = _shortest_circle(start, graph, component)
            if not any(_same_circle(circle, known) for known in circles):
                circles.append(circle)
        found.append(circles)
    return sorted(found, key=lambda circles: sorted({m for circle in circles for m in circle}))


def _shortest_circle(start: str, graph: dict[str, set[str]], within: set[str]) -> list[str]:
    """Breadth first from `start` back to it, through `within` only, smallest names first."""
    came_from: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for child in sorted(graph[node] & within):
                if child == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(came_from[path[-1]])
                    return path[::-1]
                if child not in came_from:
                    came_from[child] = node
                    following.append(child)
        frontier = following
    raise ValueError(f"{start} is on no circle")  # cannot happen within a strongly connected component


def _same_circle(a: list[str], b: list[str]) -> bool:
    return len(a) == len(b) and any(a == b[i:] + b[:i] for i in range(len(b)))


def _strongly_connected(graph: dict[str, set[str]]) -> list[set[str]]:
    """Tarjan's algorithm, iterative so that a deep graph does not hit the recursion limit."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[set[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = set()
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.add(member)
                        if member == node:
                            break
                    components.append(component)
            elif child not in index:
                index[child] = low[child] = len(index)
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(sorted(graph[child]))))
            elif child in on_stack:
                low[node] = min(low[node], index[child])
    return components

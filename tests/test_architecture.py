"""The import structure of the whole tree: no import circle, and no lower layer importing a higher one.

Read from the source (tests/import_graph.py), nothing is imported. An import under
`if TYPE_CHECKING:` never runs and is not an edge. An import inside a function (a lazy import)
is an edge for both rules: an upward call is upward whenever it happens, and a lazy import that
dodges a circle at load time still ties the two modules into one.

The layers of `chaos/` are the table below, lowest first. A module may import modules of a
lower layer, or of its own layer as long as no circle results. A name in the table is a package
or module under `chaos`; the longest name that contains a module gives its layer, so
`report.journal` can sit lower than the rest of `report`. Every module of `chaos` must have one.
"""

from __future__ import annotations

import ast
import functools
import textwrap
from pathlib import Path

import pytest

from chaos.target import MODES
from tests.import_graph import Import, cycles, module_files, read_imports

ROOT = Path(__file__).resolve().parents[1]
SERVER_PACKAGES = ("orchestrator", "mcp_task_orchestrator")  # the shipped server: never imports the harness
HARNESS = "chaos"

# Lowest first: each layer and the packages and modules of chaos/ in it. Change the order here, and in
# the table of docs/architecture.md.
LAYERS: dict[int, list[str]] = {
    0: ["waiting", "interrupt", "errors", "host"],  # helpers every layer uses; the machine (owned processes, mounts)
    1: ["faults"],  # the kinds of failure, acting through a FaultContext
    2: ["guide", "scenario"],  # the scenario language; it names faults and cites the guide
    3: ["verdict", "report.journal"],  # what must hold after a run; the journal a run writes as it goes
    4: ["target"],  # what a scenario is played against: live processes or the simulator
    5: ["engine"],  # runs one scenario against a target
    6: ["report", "explore", "sweep", "soak", "incident", "runbook"],  # built on runs of the engine
    7: ["cli", "pytest", "__main__", "__init__"],  # entry points (`__init__` is chaos/__init__.py)
}


def layer_of(module: str, layers: dict[int, list[str]], package: str = HARNESS) -> tuple[str, int] | None:
    """The table's name for `module` (of `package`) and its layer, or None when the table has none."""
    relative = module.removeprefix(package + ".") if module != package else "__init__"
    best: tuple[str, int] | None = None
    for layer, names in layers.items():
        for name in names:
            if (relative == name or relative.startswith(name + ".")) and (
                best is None or len(name) > len(best[0])
            ):
                best = (name, layer)
    return best


def upward_imports(imports: list[Import], layers: dict[int, list[str]], package: str = HARNESS) -> list[str]:
    """One line per import of a higher layer by a lower one, within `package`."""
    lines = []
    for imp in imports:
        here, there = layer_of(imp.importer, layers, package), layer_of(imp.imported, layers, package)
        if not imp.imported.startswith(package + ".") or here is None or there is None or there[1] <= here[1]:
            continue
        lazy = ", inside a function" if imp.lazy else ""
        lines.append(
            f"{imp.path}:{imp.line} imports {imp.imported} "
            f"(layer {here[0]}={here[1]} -> {there[0]}={there[1]}{lazy})"
        )
    return lines


def unplaced(modules: list[str], layers: dict[int, list[str]], package: str = HARNESS) -> list[str]:
    return [m for m in modules if m.split(".")[0] == package and layer_of(m, layers, package) is None]


def imports_of(outside: tuple[str, ...], inside: str, imports: list[Import]) -> list[str]:
    """One line per import of package `inside` by a module of the packages `outside`."""
    return [
        f"{imp.path}:{imp.line} imports {imp.imported}"
        for imp in imports
        if imp.importer.split(".")[0] in outside and imp.imported.split(".")[0] == inside
    ]


def circles(imports: list[Import]) -> list[str]:
    """Each set of modules tied by imports: the circles that go round it, in import order, then the
    imports that make those circles, with their file and line."""
    lines = []
    for component in cycles((imp.importer, imp.imported) for imp in imports):
        steps = {pair for circle in component for pair in zip(circle, [*circle[1:], circle[0]], strict=True)}
        lines += ["circle: " + " -> ".join([*circle, circle[0]]) for circle in component]
        lines += [
            f"    {imp.path}:{imp.line} imports {imp.imported}" + (" (inside a function)" if imp.lazy else "")
            for imp in imports
            if (imp.importer, imp.imported) in steps
        ]
    return lines


@functools.cache
def project() -> tuple[list[Import], list[str]]:
    packages = (*SERVER_PACKAGES, HARNESS)
    return read_imports(ROOT, packages), list(module_files(ROOT, packages))


def _fail_with(title: str, lines: list[str]) -> None:
    if lines:
        pytest.fail(f"{title}:\n" + "\n".join(lines), pytrace=False)


def test_no_import_circle():
    _fail_with("modules that import each other, directly or round a circle", circles(project()[0]))


def test_the_server_never_imports_the_harness():
    _fail_with(
        f"{' and '.join(SERVER_PACKAGES)} import {HARNESS}",
        imports_of(SERVER_PACKAGES, HARNESS, project()[0]),
    )


def test_every_harness_module_has_a_layer():
    _fail_with(
        "chaos modules missing from LAYERS in tests/test_architecture.py", unplaced(project()[1], LAYERS)
    )


def test_no_upward_import_in_the_harness():
    _fail_with("lower layers of chaos importing higher ones", upward_imports(project()[0], LAYERS))


def mode_comparisons(files: list[Path], modes: tuple[str, ...] = MODES) -> list[str]:
    """One line per comparison of something named `mode` with a target's name (`mode == "sim"`)."""
    found = []
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not isinstance(node, ast.Compare) or not isinstance(node.ops[0], (ast.Eq, ast.NotEq, ast.In, ast.NotIn)):
                continue
            sides = [node.left, *node.comparators]
            named = any(isinstance(s, ast.Name) and s.id == "mode" or isinstance(s, ast.Attribute) and s.attr == "mode" for s in sides)
            literal = any(isinstance(s, ast.Constant) and s.value in modes for s in sides)
            if named and literal:
                found.append(f"{path.relative_to(ROOT)}:{node.lineno} {ast.unparse(node)}")
    return found


def test_only_make_target_asks_which_mode_a_run_is_in():
    """The live/sim seam is the Target protocol: everything else asks the target, never the mode's name."""
    factory = ROOT / "chaos" / "target" / "__init__.py"
    files = [path for path in sorted((ROOT / "chaos").rglob("*.py")) if path != factory]
    _fail_with("a mode compared outside chaos.target.make_target (ask the Target instead)", mode_comparisons(files))


# The sweep fails the Nth I/O operation of a simulated restart: it is built on the simulator by design.
TARGET_SPECIFIC = ("chaos.target.live", "chaos.target.sim")
MAY_NAME_A_TARGET = ("chaos.target", "chaos.sweep")


def test_only_the_targets_import_a_target_s_own_modules():
    """Everything else reaches a target through chaos.target (make_target, the protocols of base.py, client.py)."""
    lines = [
        f"{imp.path}:{imp.line} imports {imp.imported}"
        for imp in project()[0]
        if imp.imported.startswith(TARGET_SPECIFIC)
        and not any(imp.importer == name or imp.importer.startswith(name + ".") for name in MAY_NAME_A_TARGET)
    ]
    _fail_with("modules outside chaos.target naming the live or simulated target directly", lines)


# The reader and the rules themselves, on a package made up for the purpose.


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))


MADE_UP = {
    "pkg/__init__.py": "",
    "pkg/low/__init__.py": "from pkg.low.a import f\n",
    "pkg/low/a.py": """\
        from __future__ import annotations

        from typing import TYPE_CHECKING

        if TYPE_CHECKING:
            from pkg.high import b  # never runs: not an edge

        def f():
            from pkg.high.b import g  # lazy, and upward
            return g
        """,
    "pkg/low/c.py": "from . import a\nimport os\n",  # relative, and a module outside the project
    "pkg/high/__init__.py": "",
    "pkg/high/b.py": "from pkg.low import a\n\ndef g():\n    pass\n",
    "pkg/high/x.py": "import pkg.high.y\n",
    "pkg/high/y.py": "from ..high import z\n",
    "pkg/high/z.py": "try:\n    from pkg.high.x import thing\nexcept ImportError:\n    pass\n",
    "pkg/high/me.py": "from pkg.high import me\n",
    "other/__init__.py": "from pkg.low import c\n",
}
MADE_UP_LAYERS = {0: ["low"], 1: ["high"], 2: ["__init__"]}


def test_the_reader_finds_every_kind_of_import(tmp_path: Path):
    _write(tmp_path, MADE_UP)
    found = {(i.importer, i.imported, i.line, i.lazy) for i in read_imports(tmp_path, ["pkg", "other"])}
    assert found == {
        ("pkg.low", "pkg.low.a", 1, False),
        ("pkg.low.a", "pkg.high.b", 9, True),
        ("pkg.low.c", "pkg.low.a", 1, False),
        ("pkg.high.b", "pkg.low.a", 1, False),
        ("pkg.high.x", "pkg.high.y", 1, False),
        ("pkg.high.y", "pkg.high.z", 1, False),
        ("pkg.high.z", "pkg.high.x", 2, False),
        ("pkg.high.me", "pkg.high.me", 1, False),
        ("other", "pkg.low.c", 1, False),
    }


def test_the_rules_report_exactly_the_made_up_violations(tmp_path: Path):
    _write(tmp_path, MADE_UP)
    imports = read_imports(tmp_path, ["pkg", "other"])
    assert circles(imports) == [
        "circle: pkg.high.b -> pkg.low.a -> pkg.high.b",
        "    pkg/high/b.py:1 imports pkg.low.a",
        "    pkg/low/a.py:9 imports pkg.high.b (inside a function)",
        "circle: pkg.high.me -> pkg.high.me",
        "    pkg/high/me.py:1 imports pkg.high.me",
        "circle: pkg.high.x -> pkg.high.y -> pkg.high.z -> pkg.high.x",
        "    pkg/high/x.py:1 imports pkg.high.y",
        "    pkg/high/y.py:1 imports pkg.high.z",
        "    pkg/high/z.py:2 imports pkg.high.x",
    ]
    assert upward_imports(imports, MADE_UP_LAYERS, "pkg") == [
        "pkg/low/a.py:9 imports pkg.high.b (layer low=0 -> high=1, inside a function)"
    ]
    assert imports_of(("other",), "pkg", imports) == ["other/__init__.py:1 imports pkg.low.c"]
    assert unplaced(list(module_files(tmp_path, ["pkg"])), {0: ["low"], 1: ["high"]}, "pkg") == ["pkg"]

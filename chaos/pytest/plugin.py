"""pytest plugin: `pytest scenarios/` collects every scenario file as a test item.

So -k, marks (a scenario's tags), -n (xdist) and --junitxml work as for any test. A YAML file is
a scenario when it has a top-level `steps:` key; an invalid one is a collection error listing
every problem with file:line. A failing scenario reads as it does from `python -m chaos run`,
reproduce command included. Public pytest APIs only (pytest_collect_file, File, Item,
repr_failure).

Opt-in, twice over: nothing loads it unless a project asks (`-p chaos.pytest.plugin` on the
command line or in `addopts`), and then it collects only under the paths the `chaos_scenarios`
ini option names, or, without that option, under the paths given on the command line. A YAML
file elsewhere with a `steps:` key (a CI configuration, say) is never taken for a scenario.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chaos.engine import RunOptions, ScenarioResult, run_one
from chaos.errors import HarnessError
from chaos.guide.coverage import covered_ids
from chaos.scenario import Loaded, load_scenario

SUFFIXES = (".yaml", ".yml")
TOP_LEVEL_STEPS = re.compile(r"^steps\s*:", re.MULTILINE)
TIMEOUT_MARGIN_S = 180.0  # beyond the scenario's own step timeout: start-up, finally steps, checks, cleanup


class ScenarioInvalid(HarnessError):
    def __init__(self, loaded: Loaded):
        super().__init__(f"{len(loaded.problems)} problem(s) in {loaded.source.name}")
        self.loaded = loaded


class ScenarioFailed(HarnessError):
    def __init__(self, result: ScenarioResult):
        super().__init__(result.outcome)
        self.result = result


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("chaos", "chaos scenarios")
    group.addoption("--scenario-workdir", type=Path, help="make each scenario's directory here (default: the temp dir)")
    group.addoption("--scenario-keep", action="store_true", help="keep the directories of passing scenarios too")
    parser.addini(
        "chaos_scenarios",
        "directories or files holding chaos scenarios (default: only paths named on the command line)",
        type="paths",
        default=[],
    )


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if file_path.suffix in SUFFIXES and _asked_for(parent.config, file_path) and _is_scenario(file_path):
        return ScenarioFile.from_parent(parent, path=file_path)
    return None


def _asked_for(config: pytest.Config, path: Path) -> bool:
    """Whether the project named a place that holds `path`: the ini option, else the command line."""
    roots = config.getini("chaos_scenarios") or [
        config.invocation_params.dir / arg.split("::")[0] for arg in config.args
    ]
    resolved = path.resolve()
    return any(resolved == root.resolve() or root.resolve() in resolved.parents for root in roots)


def _is_scenario(path: Path) -> bool:
    try:
        return TOP_LEVEL_STEPS.search(path.read_text(encoding="utf-8", errors="replace")) is not None
    except OSError:
        return False


class ScenarioFile(pytest.File):
    def collect(self) -> Iterator[ScenarioItem]:
        loaded = load_scenario(self.path)
        if not loaded.ok:
            raise ScenarioInvalid(loaded)
        assert loaded.scenario is not None
        yield ScenarioItem.from_parent(self, name=loaded.scenario.name, loaded=loaded)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        if isinstance(excinfo.value, ScenarioInvalid):
            problems = "\n".join(str(p) for p in excinfo.value.loaded.problems)
            return f"invalid scenario file:\n{problems}\n(python -m chaos validate {excinfo.value.loaded.source.name})"
        return super().repr_failure(excinfo)


class ScenarioItem(pytest.Item):
    def __init__(self, *, loaded: Loaded, **kwargs: Any):
        super().__init__(**kwargs)
        self.loaded = loaded
        scenario = loaded.scenario
        assert scenario is not None
        for tag in ("live", *scenario.tags):
            self.config.addinivalue_line("markers", f"{tag}: scenario tag")
            self.add_marker(tag)
        if self.config.pluginmanager.hasplugin("timeout"):
            self.add_marker(pytest.mark.timeout(scenario.timeout + TIMEOUT_MARGIN_S))
        self.extra_keyword_matches.update(covered_ids(scenario))

    def runtest(self) -> None:
        options = RunOptions(
            workdir=self.config.getoption("scenario_workdir"), keep=self.config.getoption("scenario_keep")
        )
        result = run_one(self.loaded, options)
        if not result.passed:
            raise ScenarioFailed(result)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        if isinstance(excinfo.value, ScenarioFailed):
            return excinfo.value.result.report()
        return super().repr_failure(excinfo)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, self.loaded.source.line(("name",)) - 1, f"scenario {self.name}"

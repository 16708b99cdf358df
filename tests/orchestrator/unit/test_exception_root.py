"""Every exception the orchestrator defines derives from OrchestratorError, so one `except` catches them all.

ProcessExit is the one exception: it stands in for the process ending and must escape `except Exception`.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import orchestrator
from orchestrator.errors import OrchestratorError
from orchestrator.faultpoints import ProcessExit

NOT_IMPORTED = {"orchestrator.__main__"}  # importing it runs the command line and exits


def defined_exceptions() -> dict[str, type[BaseException]]:
    """Each exception class defined (not merely imported) in a module of the package, by qualified name."""
    found: dict[str, type[BaseException]] = {}
    for module_info in pkgutil.walk_packages(orchestrator.__path__, prefix="orchestrator."):
        if module_info.name in NOT_IMPORTED:
            continue
        module = importlib.import_module(module_info.name)
        for _, value in inspect.getmembers(module, inspect.isclass):
            if issubclass(value, BaseException) and value.__module__ == module.__name__:
                found[f"{value.__module__}.{value.__qualname__}"] = value
    return found


def test_the_walk_sees_the_packages_exceptions_in_every_layer() -> None:
    names = set(defined_exceptions())
    for expected in (
        "orchestrator.errors.RestartFailure",
        "orchestrator.store.StoreFullError",
        "orchestrator.supervisor.worker_process.WorkerGone",
        "orchestrator.faultpoints.ProcessExit",
    ):
        assert expected in names


def test_every_exception_of_the_orchestrator_derives_from_orchestrator_error() -> None:
    outside = sorted(
        name for name, cls in defined_exceptions().items() if not issubclass(cls, OrchestratorError)
    )
    assert outside == ["orchestrator.faultpoints.ProcessExit"], (
        f"derive these from OrchestratorError: {outside}"
    )


def test_process_exit_escapes_except_exception() -> None:
    assert not issubclass(ProcessExit, Exception)

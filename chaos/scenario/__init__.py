"""Scenarios: YAML stories of set-up, fault, action, expectation, healing and verification."""

from chaos.scenario.model import STEP_MODELS, Scenario, Step, kind_of
from chaos.scenario.source import Problem, Source
from chaos.scenario.validate import Loaded, discover, load_paths, load_scenario

__all__ = [
    "STEP_MODELS",
    "Loaded",
    "Problem",
    "Scenario",
    "Source",
    "Step",
    "discover",
    "kind_of",
    "load_paths",
    "load_scenario",
]

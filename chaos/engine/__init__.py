"""The scenario engine: runs validated scenarios, step by step, against the target `RunOptions.mode` names."""

from chaos.engine.failure import Failure, ScenarioResult, reproduce_command
from chaos.engine.lifecycle import Reporter, RunOptions, run_one, run_scenario

__all__ = [
    "Failure",
    "Reporter",
    "RunOptions",
    "ScenarioResult",
    "reproduce_command",
    "run_one",
    "run_scenario",
]

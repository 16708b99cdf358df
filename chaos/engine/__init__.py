"""The scenario engine: runs validated scenarios against live orchestrators, with real faults."""

from chaos.engine.failure import Failure, ScenarioResult, reproduce_command
from chaos.engine.lifecycle import Reporter, RunOptions, run_scenario

__all__ = ["Failure", "Reporter", "RunOptions", "ScenarioResult", "reproduce_command", "run_scenario"]

"""MCP task orchestrator with a real restart system (supervisor + replaceable worker)."""

__version__ = "0.1.0"

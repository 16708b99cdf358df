"""Tests of orchestrator and mcp_task_orchestrator: unit (no processes), integration (live processes), security."""

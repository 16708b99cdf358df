"""The guide's module names: `python -m mcp_task_orchestrator.server` starts the orchestrator."""

"""`python -m mcp_task_orchestrator.server`: start the orchestrator (supervisor + worker)."""

import sys

from orchestrator.supervisor.server import main

if __name__ == "__main__":
    sys.exit(main())

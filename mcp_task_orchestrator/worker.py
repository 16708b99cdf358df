"""`python -m mcp_task_orchestrator.worker`: the worker process (started by the supervisor)."""

import sys

from orchestrator.worker import main

if __name__ == "__main__":
    sys.exit(main())

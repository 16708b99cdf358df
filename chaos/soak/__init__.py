"""`python -m chaos soak`: a workload of K clients and a seeded nemesis against one orchestrator, and a
checker that holds the history of every call against the database (see chaos.soak.cli)."""

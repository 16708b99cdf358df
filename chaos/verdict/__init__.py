"""What must hold after a run, and when it is judged: the call history and the invariants (checks), judged through the orchestrator, on its files and on what outlives it (invariants)."""

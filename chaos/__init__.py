"""The chaos harness: live orchestrators, real faults, scenarios, checks and reports."""

"""Tests of chaos.faults: every fault injected for real, and healed."""

"""The simulated target: the real supervisor and worker code in the harness's own process, on a virtual clock, seeded."""

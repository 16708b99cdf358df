"""The live target: real supervisor and worker processes, started, owned, confined and stopped by the harness."""

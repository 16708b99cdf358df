"""The machine the harness runs on: which processes this run owns (and so may signal), and the mount
namespaces that confine an orchestrator's files. Below every other layer: faults, targets and the
engine all act on processes and mounts through it."""

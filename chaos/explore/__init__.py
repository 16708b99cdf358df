"""Exploration: generated fault schedules, run in sim mode, judged against the guide, shrunk to YAML.

`python -m chaos explore --seeds N` lets hypothesis draw N schedules (chaos.explore.strategies):
faults injected and healed between steps, restarts of every kind, overlapping restarts and kills
in `parallel` branches, the first worker after a start killed while it starts, concurrent clients
calling throughout, and at the end every fault healed and a restart that must succeed. Each
schedule becomes an ordinary scenario (chaos.explore.compile), runs in sim mode, and is judged
(chaos.explore.judge): the invariants hold, every restart and every concurrent call ends in success
or a code the guide documents for what was going on (chaos.explore.outcomes). A failing schedule is shrunk by
hypothesis and written as a catalogue scenario (chaos.explore.finding).
"""

"""`python -m chaos runbook RUNBOOK.md --incident SCENARIO.yaml`: does a Markdown runbook recover the system?

markdown.py reads the runbook's fenced blocks and what each expects, plan.py turns incident and
runbook into one scenario (the incident's steps, each block, a probe after each block, the
recovery checks), snippet.py runs a python block against the orchestrator, pkill.py keeps the
runbook's `pkill` to this run's processes, probe.py checks nothing was destroyed after a block,
verdict.py judges the run and writes the report, cli.py is the command.
"""

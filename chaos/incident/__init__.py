"""`python -m chaos incident import`: a field `.task_orchestrator/` directory made into a scenario that reproduces it.

archive.py unpacks a tarball safely, evidence.py reads what the directory holds, inference.py maps
that evidence to restarts and faults, redact.py anonymises the copied files, writer.py writes the
scenario and its fixture, cli.py is the command.
"""

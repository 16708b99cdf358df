#!/usr/bin/env bash
# The test suite (unit, live orchestrator, faults, scenario catalogue), two workers in parallel.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
exec .venv/bin/python -m pytest -n 2 "$@"

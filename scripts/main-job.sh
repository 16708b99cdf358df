#!/usr/bin/env bash
# The main job: the whole scenario catalogue against live orchestrators, two at a time,
# writing junit.xml, journal.json and report.html to reports/<UTC timestamp>/.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
exec .venv/bin/python -m chaos run scenarios/ --jobs 2 "$@"

#!/usr/bin/env bash
# Prepare a fresh machine for this project: system tools the guide's runbooks use, a venv, the package.
# Idempotent and quiet when everything is already there. Sourced by scripts/test.sh and scripts/main-job.sh.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

missing=()
command -v ps >/dev/null 2>&1 || missing+=(procps)
command -v sqlite3 >/dev/null 2>&1 || missing+=(sqlite3)
command -v lsof >/dev/null 2>&1 || missing+=(lsof)
command -v netstat >/dev/null 2>&1 || missing+=(net-tools)
command -v unshare >/dev/null 2>&1 || missing+=(util-linux)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)  # tests/chaos/report/test_browser.py renders a report headless
if ((${#missing[@]})); then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing ${missing[*]}" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "setup: please install ${missing[*]} (needed by the guide's runbook steps and the report's browser test)" >&2
  fi
fi

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[chaos,test]'

#!/usr/bin/env bash
# Installs hotline into ./.venv (Python deps incl. tests) and the independent SMSC test peer
# (npm `smpp`) into tests/peers. Safe to run again. Needs python3 >= 3.11; node/npm optional.
set -euo pipefail
cd "$(dirname "$0")"
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[test]'
if command -v npm >/dev/null 2>&1; then
  npm install --silent --no-audit --no-fund --prefix tests/peers >/dev/null
else
  echo "install.sh: npm not found: tests against the independent SMSC peer will be skipped" >&2
fi
echo "hotline installed in .venv ($(.venv/bin/python --version))"

#!/usr/bin/env bash
# Installs hotline into ./.venv (Python deps incl. tests) and the independent SMSC test peer
# (npm `smpp`) into tests/peers. Safe to run again. Needs python3 >= 3.11; node/npm optional.
set -euo pipefail
cd "$(dirname "$0")"

# The interpreter: $PYTHON if set, else the first of python3, python3.13, python3.12, python3.11
# (in that order, each as found on PATH) that is >= 3.11 and has venv. The same machine always
# gets the same choice. Builds of one version differ in speed (docs/operations.md, "The
# interpreter", says which to prefer); choose one with PYTHON=/path/to/python3 ./install.sh.
# An existing .venv is kept (remove it to choose again).
USABLE='import sys, ensurepip, venv; sys.exit(sys.version_info < (3, 11))'
pick_python() {
  local cand path
  for cand in python3 python3.13 python3.12 python3.11; do
    path=$(command -v "$cand" 2>/dev/null) || continue
    if "$path" -c "$USABLE" 2>/dev/null; then
      echo "$path"
      return 0
    fi
  done
  echo "install.sh: no Python >= 3.11 with venv found (set PYTHON=/path/to/python3)" >&2
  return 1
}
if [ ! -x .venv/bin/python ]; then
  PY=${PYTHON:-$(pick_python)}
  if ! "$PY" -c "$USABLE" 2>/dev/null; then
    echo "install.sh: $PY is not a Python >= 3.11 with venv" >&2
    exit 1
  fi
  echo "install.sh: creating .venv with $PY ($("$PY" -c 'import platform; print(platform.python_version())'))" >&2
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
# An editable install makes setuptools print an "Editable installation." notice (a warning
# category it uses for information: "be careful with folders named like your package"); that
# one message, by its text, is silenced, any other warning still shows.
PYTHONWARNINGS='ignore:Editable installation' .venv/bin/python -m pip install --quiet -e '.[test]'
if command -v npm >/dev/null 2>&1; then
  npm install --silent --no-audit --no-fund --prefix tests/peers >/dev/null
else
  echo "install.sh: npm not found: tests against the independent SMSC peer will be skipped" >&2
fi
echo "hotline installed in .venv ($(.venv/bin/python --version))"

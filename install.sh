#!/usr/bin/env bash
# Installs hotline into ./.venv (Python deps incl. tests) and the independent SMSC test peer
# (npm `smpp`) into tests/peers. Safe to run again. Needs python3 >= 3.11; node/npm optional.
set -euo pipefail
cd "$(dirname "$0")"

# The interpreter: $PYTHON if set, else the fastest Python >= 3.11 (with venv) found here.
# Builds of one version differ: a distro's PGO/LTO build ran Python ~20-25 % faster than a
# plain source build linked against libpython (docs/operations.md, "The interpreter"). The
# check is a pure-Python loop, best of 5, run in five rounds; in each round every candidate
# runs once, back to back, and the fastest of that round wins it. The most rounds won picks
# (a tie: the best time). A virtual machine's vCPU can run ~1.7x slower for seconds at a time
# (bench/machine.py): such a spell can cover every round of one candidate and spoil a
# comparison of best times, but it slows the candidates of one round alike. An existing
# .venv is kept (remove it to choose again).
SPEED_CHECK='
import sys, timeit
if sys.version_info < (3, 11): raise SystemExit(1)
import ensurepip, venv  # noqa: F401  (a distro may ship python3 without them)
def work():
    seen = {}
    for i in range(50000):
        key = str(i)
        seen[key] = seen.get(key[:2], 0) + len(key)
    return sorted(seen.items())[:3]
print(f"{min(timeit.repeat(work, number=1, repeat=5)) * 1000:.1f}")
'
faster() { awk "BEGIN{exit !($1 < $2)}"; }  # is $1 ms less than $2 ms
pick_python() {
  local cand path ms best="" round i winner
  local -a found=() times=() wins=() this=()
  for cand in python3 python3.11 python3.12 python3.13 /usr/bin/python3 /usr/local/bin/python3; do
    path=$(command -v "$cand" 2>/dev/null) || continue
    ms=$("$path" -c "$SPEED_CHECK" 2>/dev/null) || continue  # round 1; fails if unusable
    found+=("$path") times+=("$ms") wins+=(0) this+=("$ms")
  done
  [ ${#found[@]} -gt 0 ] || { echo "install.sh: no Python >= 3.11 with venv found" >&2; return 1; }
  for round in 1 2 3 4 5; do
    if [ "$round" -gt 1 ]; then
      for i in "${!found[@]}"; do
        this[$i]=$("${found[$i]}" -c "$SPEED_CHECK")
        if faster "${this[$i]}" "${times[$i]}"; then times[$i]=${this[$i]}; fi
      done
    fi
    winner=0
    for i in "${!found[@]}"; do
      if faster "${this[$i]}" "${this[$winner]}"; then winner=$i; fi
    done
    wins[$winner]=$((wins[winner] + 1))
  done
  for i in "${!found[@]}"; do
    echo "install.sh: ${found[$i]} ($("${found[$i]}" -c 'import platform; print(platform.python_version())')): best ${times[$i]} ms on the speed check, fastest in ${wins[$i]} of 5 rounds" >&2
    if [ -z "$best" ] || [ "${wins[$i]}" -gt "${wins[$best]}" ] || {
        [ "${wins[$i]}" -eq "${wins[$best]}" ] && faster "${times[$i]}" "${times[$best]}"; }; then
      best=$i
    fi
  done
  echo "${found[$best]}"
}
if [ ! -x .venv/bin/python ]; then
  PY=${PYTHON:-$(pick_python)}
  echo "install.sh: creating .venv with $PY" >&2
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

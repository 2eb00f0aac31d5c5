#!/usr/bin/env bash
# Make sure a Python with SimPy 3 (Debian's python3-simpy3, SimPy 3.0.11) is
# available, installing it with apt-get if needed. Quiet on success; prints the
# path of the Python interpreter to use as the last line of stdout.
# Usage: PY=$(bench/simpy/ensure-simpy.sh | tail -n1)
set -euo pipefail

SYS_PY=/usr/bin/python3

has_simpy() { [ -x "$1" ] && "$1" -c 'import simpy' >/dev/null 2>&1; }

die() { echo "ensure-simpy: $*" >&2; exit 1; }

# 1. Debian's own python (where python3-simpy3 installs) already has it.
if has_simpy "$SYS_PY"; then echo "$SYS_PY"; exit 0; fi

# 2. Install Debian's package (needs root, or passwordless sudo).
SUDO=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then SUDO=(sudo -n)
  else SUDO=(none); fi
fi

install_err=""
if [ "${SUDO[0]:-}" = none ]; then
  install_err="not root and no passwordless sudo, cannot apt-get install python3-simpy3"
elif ! command -v apt-get >/dev/null 2>&1; then
  install_err="apt-get not found (not a Debian-like system)"
else
  log=$(mktemp)
  trap 'rm -f "$log"' EXIT
  export DEBIAN_FRONTEND=noninteractive
  if ! "${SUDO[@]}" apt-get update -qq >>"$log" 2>&1; then
    install_err="apt-get update failed: $(tail -n 5 "$log")"
  elif ! "${SUDO[@]}" apt-get install -y -qq --no-install-recommends python3-simpy3 >>"$log" 2>&1; then
    install_err="apt-get install python3-simpy3 failed: $(tail -n 5 "$log")"
  elif ! has_simpy "$SYS_PY"; then
    install_err="python3-simpy3 installed but '$SYS_PY -c \"import simpy\"' still fails"
  fi
fi
if [ -z "$install_err" ]; then echo "$SYS_PY"; exit 0; fi

# 3. Fall back to any other python3 on PATH that already has simpy.
while IFS= read -r py; do
  if has_simpy "$py"; then
    echo "ensure-simpy: warning: $install_err; using $py instead" >&2
    echo "$py"; exit 0
  fi
done < <(which -a python3 2>/dev/null || true)

die "$install_err"

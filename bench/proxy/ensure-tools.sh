#!/usr/bin/env bash
# Make sure the load generator and the peer proxy of `npm run bench:proxy` are installed:
# Debian's `wrk` (4.1) and `nginx-light` (one of Debian's nginx builds). Missing ones are
# installed with apt-get (needs root or passwordless sudo), and the script says so on
# stderr. Prints the paths of wrk and nginx as the last two lines of stdout; exits 1 with
# a message naming what is missing when it cannot install them.
# Usage: bench/proxy/ensure-tools.sh
set -euo pipefail

die() { echo "ensure-tools: $*" >&2; exit 1; }

find_wrk() { command -v wrk 2>/dev/null || true; }
# nginx is in /usr/sbin, which a non-root PATH may lack.
find_nginx() { command -v nginx 2>/dev/null || { [ -x /usr/sbin/nginx ] && echo /usr/sbin/nginx; } || true; }

missing=()
[ -n "$(find_wrk)" ] || missing+=(wrk)
[ -n "$(find_nginx)" ] || missing+=(nginx-light)

if [ ${#missing[@]} -gt 0 ]; then
  SUDO=()
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then SUDO=(sudo -n)
    else die "${missing[*]} missing, and not root and no passwordless sudo: install them with 'apt-get install -y ${missing[*]}'"; fi
  fi
  command -v apt-get >/dev/null 2>&1 || die "${missing[*]} missing and apt-get not found (not a Debian-like system): install them by hand"
  echo "ensure-tools: installing ${missing[*]} with apt-get (apt-get update && apt-get install -y ${missing[*]})" >&2
  log=$(mktemp)
  trap 'rm -f "$log"' EXIT
  export DEBIAN_FRONTEND=noninteractive
  "${SUDO[@]}" apt-get update -qq >>"$log" 2>&1 || die "apt-get update failed: $(tail -n 5 "$log")"
  # --no-install-recommends; policy-rc.d is not touched: Debian's nginx package may start
  # its own nginx service on port 80, which the bench neither uses nor stops.
  "${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >>"$log" 2>&1 ||
    die "apt-get install ${missing[*]} failed: $(tail -n 5 "$log")"
  echo "ensure-tools: installed ${missing[*]}" >&2
fi

wrk_path=$(find_wrk)
nginx_path=$(find_nginx)
[ -n "$wrk_path" ] || die "wrk still not found after installing"
[ -n "$nginx_path" ] || die "nginx still not found after installing nginx-light"
echo "$wrk_path"
echo "$nginx_path"

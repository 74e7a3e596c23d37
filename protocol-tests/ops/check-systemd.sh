#!/usr/bin/env bash
# Checks systemd/parley.service: `systemd-analyze verify` clean and `systemd-analyze security`
# exposure at most 2.0 (offline, on the file; no running systemd needed).
#
# usage: protocol-tests/ops/check-systemd.sh
# Environment: PARLEY_BIN, the binary whose man pages are generated for the Documentation=
# check (default target/debug/parley, built when missing).
# Verify needs /usr/bin/parley to exist: when it does not, a stub is put there for the check
# and removed afterwards (needs root; the system's own binary is never replaced).
# Prints "PASS name"/"FAIL name: reason" and "N passed, M failed" last; exits non-zero on failure.
set -uo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
UNIT="$REPO/systemd/parley.service"
MAX_EXPOSURE=2.0
PASSED=0; FAILED=0
pass() { echo "PASS $1"; PASSED=$((PASSED + 1)); }
fail() { echo "FAIL $1: $2"; FAILED=$((FAILED + 1)); }

if ! command -v systemd-analyze >/dev/null; then
  apt-get install -y -q systemd >/dev/null 2>&1 || { echo "FAIL setup: no systemd-analyze"; echo "0 passed, 1 failed"; exit 1; }
fi
if ! command -v man >/dev/null; then apt-get install -y -q man-db >/dev/null 2>&1 || true; fi

TMP="$(mktemp -d)"
STUB=""
cleanup() { [ -n "$STUB" ] && rm -f "$STUB"; rm -rf "$TMP"; }
trap cleanup EXIT

PARLEY_BIN="${PARLEY_BIN:-$REPO/target/debug/parley}"
[ -x "$PARLEY_BIN" ] || (cd "$REPO" && cargo build -q --bin parley) || true
mkdir -p "$TMP/man/man1"
if [ -x "$PARLEY_BIN" ] && "$PARLEY_BIN" man "$TMP/man/man1" >/dev/null 2>&1; then
  export MANPATH="$TMP/man:$(manpath -q 2>/dev/null || echo /usr/share/man)"
else
  echo "note: no man pages from $PARLEY_BIN; Documentation=man:parley(1) cannot be checked" >&2
fi

if [ ! -e /usr/bin/parley ]; then
  STUB=/usr/bin/parley
  printf '#!/bin/sh\nexit 0\n' > "$STUB" && chmod 755 "$STUB" || STUB=""
fi

# verify: no output at all means clean (it prints warnings but may still exit 0).
out="$(systemd-analyze verify "$UNIT" 2>&1)"; rc=$?
if [ "$rc" = 0 ] && [ -z "$out" ]; then pass verify
else fail verify "exit $rc: $(echo "$out" | tr '\n' ' ')"; fi

out="$(systemd-analyze security --offline=true --no-pager "$UNIT" 2>&1)"
score="$(echo "$out" | sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p' | tail -1)"
if [ -z "$score" ]; then fail security "no score: $(echo "$out" | tail -3 | tr '\n' ' ')"
elif awk -v s="$score" -v m="$MAX_EXPOSURE" 'BEGIN { exit !(s <= m) }'; then pass "security (exposure $score <= $MAX_EXPOSURE)"
else fail security "exposure $score > $MAX_EXPOSURE"; echo "$out" | grep '✗' >&2; fi

# The unit's promises that the checks above do not cover.
missing=""
for want in '^Type=notify$' '^WatchdogSec=' '^User=parley$' '^StateDirectory=parley$' \
            '^CapabilityBoundingSet=CAP_NET_BIND_SERVICE$' '^NoNewPrivileges=yes$' '^ProtectSystem=strict$'; do
  grep -q "$want" "$UNIT" || missing="$missing $want"
done
if [ -z "$missing" ]; then pass unit-settings; else fail unit-settings "missing$missing"; fi

echo "$PASSED passed, $FAILED failed"
[ "$FAILED" = 0 ]

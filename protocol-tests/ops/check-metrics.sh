#!/usr/bin/env bash
# Runs parley (the built-in config on loopback, ephemeral ports), waits for /readyz, and checks
# the real /metrics exposition with `promtool check metrics` and for the expected families;
# also /healthz, and that parley stops on SIGTERM.
#
# usage: protocol-tests/ops/check-metrics.sh
# Environment: PARLEY_BIN (default target/debug/parley, built when missing).
# Needs promtool (Debian package prometheus; installed when missing, as root).
# Prints "PASS name"/"FAIL name: reason" and "N passed, M failed" last; exits non-zero on failure.
set -uo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PASSED=0; FAILED=0
pass() { echo "PASS $1"; PASSED=$((PASSED + 1)); }
fail() { echo "FAIL $1: $2"; FAILED=$((FAILED + 1)); }
summary() { echo "$PASSED passed, $FAILED failed"; [ "$FAILED" = 0 ]; }

command -v promtool >/dev/null || apt-get install -y -q prometheus >/dev/null 2>&1
command -v promtool >/dev/null || { fail setup "no promtool (apt-get install prometheus)"; summary; exit 1; }
PARLEY_BIN="${PARLEY_BIN:-$REPO/target/debug/parley}"
[ -x "$PARLEY_BIN" ] || (cd "$REPO" && cargo build -q --bin parley) || true
[ -x "$PARLEY_BIN" ] || { fail setup "no parley binary at $PARLEY_BIN"; summary; exit 1; }

TMP="$(mktemp -d)"; PID=""
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null; rm -rf "$TMP"; }
trap cleanup EXIT
# The built-in config, with ephemeral ports and a private state dir.
sed -e 's/127\.0\.0\.1:5061"/127.0.0.1:0"/; s/127\.0\.0\.1:5269"/127.0.0.1:0"/; s/127\.0\.0\.1:9464"/127.0.0.1:0"/' \
    "$REPO/examples/parley.toml" > "$TMP/parley.toml"
printf 'state_dir = "%s/state"\n%s\n' "$TMP" "$(cat "$TMP/parley.toml")" > "$TMP/parley.toml.new"
mv "$TMP/parley.toml.new" "$TMP/parley.toml"
"$PARLEY_BIN" run --config "$TMP/parley.toml" > "$TMP/parley.out" 2> "$TMP/parley.log" &
PID=$!

http() { # http PATH -> body on stdout; status in $CODE
  CODE="$(curl -s -o "$TMP/body" -w '%{http_code}' --max-time 5 "http://$ADDR$1")"; cat "$TMP/body"
}
ADDR=""
for _ in $(seq 1 100); do
  ADDR="$(sed -n 's/.*admin server.*addr=\([0-9.:]*\).*/\1/p' "$TMP/parley.log" | head -1)"
  [ -n "$ADDR" ] && break
  kill -0 "$PID" 2>/dev/null || break
  sleep 0.1
done
[ -n "$ADDR" ] || { fail start "no admin server address in the log: $(tail -5 "$TMP/parley.log")"; summary; exit 1; }
for _ in $(seq 1 50); do http /readyz >/dev/null; [ "$CODE" = 200 ] && break; sleep 0.1; done
if [ "$CODE" = 200 ]; then pass readyz; else fail readyz "status $CODE"; fi
http /healthz >/dev/null
if [ "$CODE" = 200 ]; then pass healthz; else fail healthz "status $CODE"; fi

http /metrics > "$TMP/metrics.txt"
if [ "$CODE" != 200 ]; then fail metrics "status $CODE"
elif out="$(promtool check metrics < "$TMP/metrics.txt" 2>&1)"; then pass "promtool check metrics"
else fail "promtool check metrics" "$out"; fi
missing=""
for fam in parley_messages_total parley_translate_duration_seconds parley_parse_errors_total \
           parley_policy_refusals_total parley_tls_handshake_failures_total parley_auth_total \
           parley_queue_messages parley_spool_messages parley_spool_bytes parley_spool_oldest_age_seconds \
           parley_subscriptions parley_reloads_total parley_build_info parley_audit_dropped_total; do
  grep -q "^# TYPE $fam " "$TMP/metrics.txt" || missing="$missing $fam"
done
if [ -z "$missing" ]; then pass families; else fail families "missing$missing"; fi

kill -TERM "$PID"
for _ in $(seq 1 150); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$PID" 2>/dev/null; then fail sigterm "still running 15s after SIGTERM"
else rc=0; wait "$PID" || rc=$?; PID=""; if [ "$rc" = 0 ]; then pass sigterm; else fail sigterm "exit $rc"; fi; fi
summary

#!/usr/bin/env bash
# Interop suite: parley between a real Prosody (xmpp.test) and a real Kamailio (sip.test),
# with a slixmpp client and pjsua2 UAs, all inside one private network + mount + PID namespace.
#
# usage: protocol-tests/interop/run.sh [SCENARIO...]     the gateway scenarios (default: all)
#        protocol-tests/interop/run.sh --self-test       the peers alone, without parley
#
# Prints one line per scenario ("PASS name" / "FAIL name (see LOG): reason"), then
# "N passed, M failed" alone on the last line; exits non-zero on any failure.
# Diagnostics of failures go to stderr. Everything is under $RUN (default /tmp/parley-interop/run).
#
# Environment:
#   PARLEY_BIN          the gateway binary (default <repo>/target/debug/parley; if that is missing,
#                       "cargo build --bin parley" runs first, outside the namespace)
#   PARLEY_INTEROP_HOME where runs and the venv live (default /tmp/parley-interop)
#   VERBOSE=1           harness progress on stderr as well as in $RUN/harness.log
# Needs root (unshare) and the peers from install.sh.
set -uo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$HERE/lib.sh"

GATEWAY_SCENARIOS=(sip-to-xmpp-plain xmpp-to-sip-plain unicode-both-ways errors-both-ways ops-metrics-audit)
GATEWAY_SCENARIOS+=(sip-watches-xmpp xmpp-watches-sip sip-unsubscribes)
GATEWAY_SCENARIOS+=(session-mode-im udp-retransmission)
GATEWAY_SCENARIOS+=(events-both-ways sip-watch-outlives-refreshes)
GATEWAY_SCENARIOS+=(session-mode-im-udp xmpp-watch-outlives-refreshes)
SELF_TESTS=(peers-xmpp-local peers-sip-local)

# Address plan (see README.md).
XMPP_IP=127.0.0.2     # Prosody: xmpp.test c2s 5222, s2s 5269
GW_XMPP_IP=127.0.0.3  # parley: sip.test's XMPP server, s2s 5269
KAM_IP=127.0.0.4      # Kamailio: sip.test udp/tcp 5060, tls 5061
GW_SIP_IP=127.0.0.5   # parley: xmpp.test's SIP edge, tls 5061
declare -A UA_IP=([alice]=127.0.0.6 [bob]=127.0.0.7)
RECV_TIMEOUT=20       # seconds a receiver waits for its message
SEND_TIMEOUT=15       # seconds a sender waits for its answer (final response, error stanza)
UNICODE_BODY="héllo 👋 Привет 你好 مرحبا"

ORIG_ARGS=("$@")
MODE=gateway
SELECTED=()
for arg in "$@"; do
  case "$arg" in
    --self-test) MODE=self-test ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
    -*) echo "unknown option $arg" >&2; exit 64 ;;
    *) SELECTED+=("$arg") ;;
  esac
done
if [ ${#SELECTED[@]} = 0 ]; then
  if [ "$MODE" = self-test ]; then SELECTED=("${SELF_TESTS[@]}"); else SELECTED=("${GATEWAY_SCENARIOS[@]}"); fi
fi
for s in "${SELECTED[@]}"; do
  case " ${GATEWAY_SCENARIOS[*]} ${SELF_TESTS[*]} " in *" $s "*) ;; *) echo "unknown scenario $s" >&2; exit 64 ;; esac
done

PASSED=0; FAILED=0
report() { # report NAME OK|REASON LOG
  if [ "$2" = OK ]; then
    echo "PASS $1"; PASSED=$((PASSED + 1))
  else
    echo "FAIL $1 (see $3): $2"; FAILED=$((FAILED + 1))
  fi
}
summary() { echo "$PASSED passed, $FAILED failed"; [ "$FAILED" = 0 ]; }
fail_all() { local s; for s in "${SELECTED[@]}"; do report "$s" "$1" "$2"; done; summary; exit 1; }

# ---- outside the namespace: checks, certificates, the parley binary ------------------------
if [ "${PARLEY_INTEROP_IN_NS:-}" != 1 ]; then
  rm -rf "$RUN"; mkdir -p "$RUN"; chmod 755 "$INTEROP_HOME"
  log "run folder $RUN, mode $MODE, scenarios: ${SELECTED[*]}"
  [ "$(id -u)" = 0 ] || fail_all "must run as root (unshare, bind mounts)" "$RUN/harness.log"
  missing=()
  for c in unshare ip ss openssl prosody prosodyctl kamailio timeout; do
    command -v "$c" >/dev/null || missing+=("$c")
  done
  [ -e "${KAMAILIO_MODULES:-/usr/lib/x86_64-linux-gnu/kamailio/modules}/tls.so" ] || missing+=(kamailio-tls-modules)
  "$VENV/bin/python" -c 'import slixmpp, pjsua2' 2>/dev/null || missing+=("venv $VENV with slixmpp+pjsua2")
  if [ ${#missing[@]} -gt 0 ]; then
    fail_all "missing ${missing[*]}: run protocol-tests/interop/install.sh" "$RUN/harness.log"
  fi
  # udp.test: a SIP domain parley reaches over UDP (udp-retransmission), served at 127.0.0.3.
  "$REPO/certs/make-certs.sh" -o "$CERTS" xmpp.test=127.0.0.2,127.0.0.5 sip.test=127.0.0.3,127.0.0.4 \
    udp.test=127.0.0.3 udpim.test=127.0.0.3 > "$RUN/certs.log" 2>&1 \
    || fail_all "certs/make-certs.sh failed" "$RUN/certs.log"

  PARLEY_PROBLEM=""
  if [ "$MODE" = gateway ]; then
    if [ -z "${PARLEY_BIN:-}" ]; then
      PARLEY_BIN="$REPO/target/debug/parley"
      if [ ! -x "$PARLEY_BIN" ]; then
        log "no $PARLEY_BIN: cargo build --bin parley"
        (cd "$REPO" && cargo build --bin parley) > "$RUN/cargo-build.log" 2>&1 \
          || PARLEY_PROBLEM="cargo build --bin parley failed (see $RUN/cargo-build.log)"
      fi
    fi
    if [ -z "$PARLEY_PROBLEM" ] && [ ! -x "$PARLEY_BIN" ]; then
      PARLEY_PROBLEM="no parley binary at $PARLEY_BIN"
    fi
    PARLEY_BIN="$(cd "$(dirname "$PARLEY_BIN")" 2>/dev/null && pwd)/$(basename "$PARLEY_BIN")"
  fi
  export PARLEY_BIN PARLEY_PROBLEM
  ns_reexec "$0" "${ORIG_ARGS[@]}"
fi

# ---- inside the namespace ----------------------------------------------------------------
trap stop_all EXIT
ns_setup "$XMPP_IP xmpp.test" "$GW_XMPP_IP sip.test" "$GW_XMPP_IP udp.test" "$GW_XMPP_IP udpim.test" \
  || fail_all "could not set up the network namespace" "$RUN/harness.log"

PEER_PROBLEM=""
prosody_start xmpp.test "$XMPP_IP" juliet romeo \
  || PEER_PROBLEM="Prosody did not start (see $RUN/prosody/)"
kamailio_start "$KAM_IP" "$GW_SIP_IP" \
  || PEER_PROBLEM="${PEER_PROBLEM:+$PEER_PROBLEM; }Kamailio did not start (see $RUN/kamailio/kamailio.log)"

if [ "$MODE" = gateway ] && [ -z "$PARLEY_PROBLEM" ]; then
  render "$HERE/parley.toml.in" "$RUN/parley.toml" RUN="$RUN" CERTS="$CERTS"
  mkdir -p "$RUN/state"
  start_bg parley "$RUN/parley.log" env RUST_BACKTRACE=1 "$PARLEY_BIN" run --config "$RUN/parley.toml"
  if ! { wait_tcp "$GW_XMPP_IP" 5269 30 parley && wait_tcp "$GW_SIP_IP" 5061 30 parley; }; then
    if alive parley; then
      PARLEY_PROBLEM="parley is not listening on $GW_XMPP_IP:5269 and $GW_SIP_IP:5061 after 30s (see $RUN/parley.log)"
    else
      rc=0; wait "$(pid_of parley)" 2>/dev/null || rc=$?
      PARLEY_PROBLEM="parley exited with status $rc at start-up (see $RUN/parley.log)"
    fi
  fi
fi

# ---- scenario building blocks --------------------------------------------------------------
# Each sets REASON (first failure wins) and appends client output to $LOG.
REASON=""
fail() { [ -n "$REASON" ] || REASON="$*"; log "  $*"; }
# show TAG FILE: a client's output into the scenario log (without pjlib's start-up chatter)
show() { grep -avE '^[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3} ' "$2" 2>/dev/null | sed "s/^/[$1] /" >> "$LOG" || true; }

# start_receiver TAG KIND USER@DOMAIN BODY FROM_USER@DOMAIN: receiver in the background; waits
# for READY. Sets RECV_PID and RECV_OUT.
start_receiver() {
  local tag="$1" kind="$2" who="$3" body="$4" from="$5"
  RECV_OUT="$SC_DIR/$tag.recv.out"
  if [ "$kind" = xmpp ]; then
    BOUND=$((RECV_TIMEOUT + 10)) xmpp_client --jid "$who" --server "$XMPP_IP" \
      --expect-body "$body" --expect-from "$from" --timeout "$RECV_TIMEOUT" > "$RECV_OUT" 2>&1 &
  else
    local user="${who%@*}"
    BOUND=$((RECV_TIMEOUT + 10)) sip_ua "$user" "${UA_IP[$user]}" --expect-body "$body" \
      --expect-from "sip:$from" --timeout "$RECV_TIMEOUT" --log-file "$SC_DIR/$tag.$user.pjsip.log" \
      > "$RECV_OUT" 2>&1 &
  fi
  RECV_PID=$!
  if ! wait_grep "$RECV_OUT" '^READY' 15 "$RECV_PID"; then
    if [ "$kind" = xmpp ]; then fail "$who could not log in at Prosody"; else fail "$who could not register at Kamailio"; fi
    return 1
  fi
}

# deliver TAG FROM_KIND FROM TO_KIND TO BODY: FROM sends BODY to TO; TO must see exactly
# sender, recipient and body. A SIP sender must get a 2xx final response.
deliver() {
  local tag="$1" fk="$2" from="$3" tk="$4" to="$5" body="$6" send_out rc=0
  send_out="$SC_DIR/$tag.send.out"
  log "  $tag: $from ($fk) -> $to ($tk)"
  if start_receiver "$tag" "$tk" "$to" "$body" "$from"; then
    if [ "$fk" = xmpp ]; then
      BOUND=$((RECV_TIMEOUT + 15)) xmpp_client --jid "$from" --server "$XMPP_IP" --send "$to" \
        --body "$body" --hold-file "$SC_DIR/$tag.done" --timeout "$((RECV_TIMEOUT + 5))" > "$send_out" 2>&1 &
    else
      local user="${from%@*}"
      BOUND=$((SEND_TIMEOUT + 10)) sip_ua "$user" "${UA_IP[$user]}" --send "sip:$to" --body "$body" \
        --timeout "$SEND_TIMEOUT" --log-file "$SC_DIR/$tag.$user.pjsip.log" > "$send_out" 2>&1 &
    fi
    local send_pid=$!
    wait_pid "$RECV_PID" $((RECV_TIMEOUT + 12)) || rc=$?
    touch "$SC_DIR/$tag.done"
    wait_pid "$send_pid" $((SEND_TIMEOUT + 12)) || true
  else
    wait_pid "$RECV_PID" 5 || true
  fi
  show "$tag recv $to" "$RECV_OUT"; show "$tag send $from" "$send_out"

  local want
  if [ "$tk" = xmpp ]; then want="RECV type=chat from=$from to=$to body=$body"
  else want="RECV from=sip:$from to=sip:$to body=$body"; fi
  if [ "$fk" = sip ]; then
    local st
    st="$(sed -n 's/^SENT .*status=\([0-9]*\).*/\1/p' "$send_out" 2>/dev/null | head -1)"
    if [ -z "$st" ]; then fail "$from got no final response to its MESSAGE"
    elif [ "$st" -lt 200 ] || [ "$st" -ge 300 ]; then
      fail "$from's MESSAGE was answered $(sed -n 's/^SENT .*status=\([0-9]*\) reason=/\1 /p' "$send_out" | head -1)"
    fi
  elif grep -q '^ERROR' "$send_out" 2>/dev/null; then
    fail "$from got an error stanza back: $(grep -m1 '^ERROR' "$send_out")"
  fi
  if ! grep -qFx -- "$want" "$RECV_OUT" 2>/dev/null; then
    local got
    got="$(grep -m1 '^RECV ' "$RECV_OUT" 2>/dev/null)"
    if [ -n "$got" ]; then fail "$to saw [$got], wanted [$want]"
    else fail "$to received nothing within ${RECV_TIMEOUT}s"; fi
  fi
  [ -z "$REASON" ]
}

# bounce TAG FROM_KIND FROM TO: FROM sends to the unknown user TO and must get an error back:
# a SIP final response >= 400 (not 408, which is the proxy's timer: nobody answered), or an XMPP
# <message type='error'> from TO.
bounce() {
  local tag="$1" fk="$2" from="$3" to="$4" out
  out="$SC_DIR/$tag.send.out"
  log "  $tag: $from ($fk) -> $to, expecting an error"
  if [ "$fk" = sip ]; then
    local user="${from%@*}" st
    BOUND=$((SEND_TIMEOUT + 10)) sip_ua "$user" "${UA_IP[$user]}" --send "sip:$to" \
      --body "are you there? ($tag)" --expect-error --timeout "$SEND_TIMEOUT" \
      --log-file "$SC_DIR/$tag.$user.pjsip.log" > "$out" 2>&1
    show "$tag send $from" "$out"
    st="$(sed -n 's/^SENT .*status=\([0-9]*\).*/\1/p' "$out" | head -1)"
    if ! grep -q '^READY' "$out"; then fail "$from could not register at Kamailio"
    elif [ -z "$st" ]; then fail "$from got no final response within ${SEND_TIMEOUT}s"
    elif [ "$st" = 408 ]; then fail "$from got 408 (nobody answered before the proxy's timer fired)"
    elif [ "$st" -lt 400 ]; then fail "$from's MESSAGE to the unknown $to was answered $st, not an error"
    else log "  $from got: $(grep -m1 '^SENT' "$out")"; fi
  else
    BOUND=$((SEND_TIMEOUT + 10)) xmpp_client --jid "$from" --server "$XMPP_IP" --send "$to" \
      --body "are you there? ($tag)" --expect-error --timeout "$SEND_TIMEOUT" > "$out" 2>&1
    show "$tag send $from" "$out"
    if ! grep -q '^READY' "$out"; then fail "$from could not log in at Prosody"
    elif ! grep -q '^ERROR' "$out"; then fail "$from got no error stanza within ${SEND_TIMEOUT}s (silence)"
    elif ! grep -q "^ERROR from=$to " "$out"; then fail "error stanza not from $to: $(grep -m1 '^ERROR' "$out")"
    else log "  $from got: $(grep -m1 '^ERROR' "$out")"; fi
  fi
  [ -z "$REASON" ]
}

nonce() { printf '%04x%04x' $RANDOM $RANDOM; }

# ---- scenarios ---------------------------------------------------------------------------
sc_sip_to_xmpp_plain() {
  deliver s2x sip alice@sip.test xmpp juliet@xmpp.test "Hello Juliet, plain text from SIP & <alice> $(nonce)"
}
sc_xmpp_to_sip_plain() {
  deliver x2s xmpp juliet@xmpp.test sip bob@sip.test "Hello Bob, plain text from XMPP & <juliet> $(nonce)"
}
sc_unicode_both_ways() {
  deliver s2x sip alice@sip.test xmpp juliet@xmpp.test "$UNICODE_BODY $(nonce)" \
    && deliver x2s xmpp juliet@xmpp.test sip bob@sip.test "$UNICODE_BODY $(nonce)"
}
sc_errors_both_ways() {
  bounce s2x sip alice@sip.test nobody@xmpp.test
  bounce x2s xmpp juliet@xmpp.test nobody@sip.test
}
# ops (issue 9): a real Prometheus scrapes parley's /metrics (127.0.0.1:9464, parley.toml.in)
# while messages cross both ways, and its HTTP API must show delivered messages in both
# directions; the audit log must get exactly one line per crossing, and no body text at all
# (the bodies of every scenario are checked; protocol-tests/ops/check_audit.py).
PROM_ADDR=127.0.0.1:9090
sc_ops_metrics_audit() {
  local audit="$RUN/state/audit/audit.log" prom="$SC_DIR/prometheus" before b1 b2 i q ok=""
  command -v prometheus >/dev/null || { fail "no prometheus binary: run protocol-tests/interop/install.sh"; return 1; }
  mkdir -p "$prom/data"
  printf '%s\n' 'global: {scrape_interval: 1s, evaluation_interval: 1s}' 'scrape_configs:' \
    '  - job_name: parley' '    static_configs: [{targets: ["127.0.0.1:9464"]}]' > "$prom/prometheus.yml"
  start_bg prometheus "$prom/prometheus.log" prometheus --config.file="$prom/prometheus.yml" \
    --storage.tsdb.path="$prom/data" --web.listen-address="$PROM_ADDR"
  wait_tcp "${PROM_ADDR%:*}" "${PROM_ADDR#*:}" 30 prometheus \
    || { fail "Prometheus did not start (see $prom/prometheus.log)"; return 1; }
  before=$(cat "$audit" 2>/dev/null | wc -l)
  b1="Audited from SIP $(nonce) <confidential>"; b2="Audited from XMPP $(nonce) & classified"
  deliver s2x sip alice@sip.test xmpp juliet@xmpp.test "$b1" || return 1
  deliver x2s xmpp juliet@xmpp.test sip bob@sip.test "$b2" || return 1
  q='sum by (direction) (parley_messages_total{kind="im",outcome="delivered"})'
  for i in $(seq 1 40); do
    curl -s --max-time 3 -G "http://$PROM_ADDR/api/v1/query" --data-urlencode "query=$q" > "$prom/query.json" 2>/dev/null
    if python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["data"]["result"]; v={x["metric"].get("direction"): float(x["value"][1]) for x in r}; sys.exit(0 if v.get("sip_to_xmpp",0)>0 and v.get("xmpp_to_sip",0)>0 else 1)' "$prom/query.json" 2>/dev/null; then
      ok=1; break
    fi
    sleep 0.5
  done
  log "  Prometheus: $(cat "$prom/query.json" 2>/dev/null)"
  [ -n "$ok" ] || fail "Prometheus API shows no delivered messages both ways: $(head -c 300 "$prom/query.json" 2>/dev/null)"
  printf '%s\n' "$b1" "$b2" "$UNICODE_BODY" "Hello Juliet, plain text from SIP & <alice>" \
    "Hello Bob, plain text from XMPP & <juliet>" "are you there?" > "$SC_DIR/bodies.txt"
  local expect=("sip_to_xmpp,im,alice@sip.test,juliet@xmpp.test,delivered"
                "xmpp_to_sip,im,juliet@xmpp.test,bob@sip.test,delivered")
  for i in $(seq 1 50); do
    [ "$(cat "$audit" 2>/dev/null | wc -l)" -ge $((before + 2)) ] && break
    sleep 0.2
  done
  sleep 0.5
  local problems
  if ! problems="$(python3 "$REPO/protocol-tests/ops/check_audit.py" "$audit" "$before" "$SC_DIR/bodies.txt" "${expect[@]}" 2>&1)"; then
    fail "audit log $audit: $(echo "$problems" | head -3 | tr '\n' ';')"
  fi
  kill -TERM "$(pid_of prometheus)" 2>/dev/null || true
  [ -z "$REASON" ]
}
# presence (issue 7): alice's pjsua2 subscribes to juliet@xmpp.test through Kamailio; juliet
# (slixmpp) sees the request, approves it after a delay, then goes available, away, dnd and
# unavailable with status texts. alice must see the subscription pending before it is active,
# then each state in order (pjsua2's view: online/offline, RPID activity, note).
sc_sip_watches_xmpp() {
  local tag=watch n; n="$(nonce)"
  local wout="$SC_DIR/$tag.alice.out" jout="$SC_DIR/$tag.juliet.out"
  BOUND=60 xmpp_client_script xmpp_presentity.py --jid juliet@xmpp.test --server "$XMPP_IP" \
    --approve alice@sip.test --delay 1.5 --timeout 30 \
    --step "available:here $n" --step "away:lunch $n" --step "dnd:meeting $n" --step "unavailable:gone $n" \
    > "$jout" 2>&1 &
  local jpid=$!
  wait_grep "$jout" '^READY' 15 "$jpid" || { fail "juliet could not log in at Prosody"; show juliet "$jout"; return 1; }
  BOUND=60 timeout -k 5 60 "$VENV/bin/python" "$INTEROP/clients/sip_watcher.py" --id sip:alice@sip.test \
    --registrar "sip:sip.test;transport=tls" --proxy "sip:$KAM_IP:5061;transport=tls;lr" \
    --ca "$CERTS/ca.crt" --cert "$CERTS/sip.test.crt" --key "$CERTS/sip.test.key" \
    --local-ip "${UA_IP[alice]}" --watch sip:juliet@xmpp.test --until "note=gone $n" --timeout 40 \
    --log-file "$SC_DIR/$tag.alice.pjsip.log" > "$wout" 2>&1
  wait_pid "$jpid" 20 || true
  show "juliet" "$jout"; show "alice" "$wout"
  grep -q "^SUBSCRIBE from=alice@sip.test" "$jout" || fail "juliet saw no subscription request from alice"
  local seq
  seq="$(grep -E '^(PRES|SUB) ' "$wout" | tr '\n' '|')"
  python3 - "$wout" "$n" <<'PY' || fail "alice saw: $seq"
import re, sys
lines = [l.strip() for l in open(sys.argv[1], encoding="utf-8") if l.startswith(("PRES ", "SUB "))]
n = sys.argv[2]
want = [r"(sub|state)=PENDING", r"sub=ACTIVE status=online activity=none note=here " + n,
        r"sub=ACTIVE status=online activity=away note=lunch " + n,
        r"sub=ACTIVE status=online activity=busy note=meeting " + n,
        r"status=offline .*note=gone " + n]
i = 0
for l in lines:
    if i < len(want) and re.search(want[i], l):
        i += 1
sys.exit(0 if i == len(want) else 1)
PY
  [ -z "$REASON" ]
}
# presence (issue 7): alice's pjsua2 subscribes to juliet@xmpp.test, juliet approves and goes
# available; alice then unsubscribes (SUBSCRIBE Expires: 0 in the dialog). alice's subscription
# must end (NOTIFY terminated) and juliet (slixmpp) must get presence type=unsubscribe from
# alice@sip.test (RFC 8048: a SIP unsubscribe is an XMPP unsubscribe).
sc_sip_unsubscribes() {
  local tag=unsub n; n="$(nonce)"
  local wout="$SC_DIR/$tag.alice.out" jout="$SC_DIR/$tag.juliet.out"
  BOUND=60 xmpp_client_script xmpp_presentity.py --jid juliet@xmpp.test --server "$XMPP_IP" \
    --approve alice@sip.test --delay 1.5 --timeout 30 --wait-unsubscribe \
    --step "available:here $n" > "$jout" 2>&1 &
  local jpid=$!
  wait_grep "$jout" '^READY' 15 "$jpid" || { fail "juliet could not log in at Prosody"; show juliet "$jout"; return 1; }
  BOUND=60 timeout -k 5 60 "$VENV/bin/python" "$INTEROP/clients/sip_watcher.py" --id sip:alice@sip.test \
    --registrar "sip:sip.test;transport=tls" --proxy "sip:$KAM_IP:5061;transport=tls;lr" \
    --ca "$CERTS/ca.crt" --cert "$CERTS/sip.test.crt" --key "$CERTS/sip.test.key" \
    --local-ip "${UA_IP[alice]}" --watch sip:juliet@xmpp.test --until "note=here $n" --unsubscribe \
    --timeout 40 --log-file "$SC_DIR/$tag.alice.pjsip.log" > "$wout" 2>&1
  local wrc=$?
  local jrc=0; wait_pid "$jpid" 40 || jrc=$?
  show "juliet" "$jout"; show "alice" "$wout"
  grep -q "^UNSUBSCRIBED" "$wout" || fail "alice never saw juliet's presence, so never unsubscribed: $(grep -m1 '^FAIL' "$wout")"
  [ "$wrc" = 0 ] || fail "alice's subscription did not end after unsubscribing: $(grep -E '^(SUB|FAIL)' "$wout" | tail -2 | tr '\n' '|')"
  grep -qx "UNSUBSCRIBE from=alice@sip.test" "$jout" || fail "juliet got no unsubscribe from alice@sip.test"
  [ "$jrc" = 0 ] || fail "juliet's client failed (exit $jrc): $(grep -m1 '^FAIL' "$jout")"
  [ -z "$REASON" ]
}
# presence (issue 7): juliet (slixmpp) subscribes to bob@sip.test; parley SUBSCRIBEs through
# Kamailio to bob's pjsua2, which accepts and then publishes online, away, busy, offline with
# notes through its NOTIFYs. juliet must get `subscribed` and then each state in order; on
# leaving she unsubscribes (SUBSCRIBE Expires: 0, seen in bob's pjsip log).
sc_xmpp_watches_sip() {
  local tag=watch n; n="$(nonce)"
  local bout="$SC_DIR/$tag.bob.out" jout="$SC_DIR/$tag.juliet.out"
  BOUND=60 timeout -k 5 60 "$VENV/bin/python" "$INTEROP/clients/sip_presentity.py" --id sip:bob@sip.test \
    --registrar "sip:sip.test;transport=tls" --proxy "sip:$KAM_IP:5061;transport=tls;lr" \
    --ca "$CERTS/ca.crt" --cert "$CERTS/sip.test.crt" --key "$CERTS/sip.test.key" \
    --local-ip "${UA_IP[bob]}" --delay 1.5 --linger 4 --timeout 40 \
    --step "online:desk $n" --step "away:lunch $n" --step "busy:call $n" --step "offline:home $n" \
    --log-file "$SC_DIR/$tag.bob.pjsip.log" > "$bout" 2>&1 &
  local bpid=$!
  wait_grep "$bout" '^READY' 15 "$bpid" || { fail "bob could not register at Kamailio"; show bob "$bout"; return 1; }
  BOUND=60 xmpp_client_script xmpp_watcher.py --jid juliet@xmpp.test --server "$XMPP_IP" \
    --watch bob@sip.test --until "status=home $n" --unsubscribe --timeout 40 > "$jout" 2>&1
  wait_pid "$bpid" 20 || true
  show "bob" "$bout"; show "juliet" "$jout"
  grep -q "^SUBSCRIBED-BY from=.*juliet@xmpp.test" "$bout" || fail "bob saw no SUBSCRIBE from juliet"
  python3 - "$SC_DIR/$tag.bob.pjsip.log" <<'PY' || fail "bob got no SUBSCRIBE with Expires: 0 after juliet unsubscribed"
import sys
msgs = open(sys.argv[1], encoding="utf-8", errors="replace").read().split("--end msg--")
sys.exit(0 if any("SUBSCRIBE sip:bob" in m and "\nExpires: 0" in m and "RX" in m for m in msgs) else 1)
PY
  python3 - "$jout" "$n" <<'PY' || fail "juliet saw: $(grep -E '^(SUBSCRIBED|PRESENCE|ERROR|FAIL)' "$jout" | tr '\n' '|')"
import re, sys
lines = [l.strip() for l in open(sys.argv[1], encoding="utf-8")]
n = sys.argv[2]
want = [r"^SUBSCRIBED from=bob@sip.test", r"type=available show= status=desk " + n,
        r"type=available show=away status=lunch " + n, r"type=available show=dnd status=call " + n,
        r"type=unavailable .*status=home " + n]
i = 0
for l in lines:
    if i < len(want) and re.search(want[i], l):
        i += 1
sys.exit(0 if i == len(want) else 1)
PY
  [ -z "$REASON" ]
}
# presence (issue 7): a subscription that outlives several refresh periods. parley grants at
# most 20 s (parley.toml.in: max_subscription_expires), so alice's pjsua2 refreshes her
# subscription to juliet@xmpp.test every ~15 s through Kamailio. juliet approves after 22 s and
# changes presence at ~44 s and ~66 s; alice must see the last change (after at least 3
# refreshes), and her pjsip log must show at least 3 refreshes answered 200 with Expires: 20
# (a refresh parley no longer knew would get 481 and end the subscription).
sc_sip_watch_outlives_refreshes() {
  local tag=refresh n; n="$(nonce)"
  local wout="$SC_DIR/$tag.alice.out" jout="$SC_DIR/$tag.juliet.out" plog="$SC_DIR/$tag.alice.pjsip.log"
  BOUND=100 xmpp_client_script xmpp_presentity.py --jid juliet@xmpp.test --server "$XMPP_IP" \
    --approve alice@sip.test --delay 22 --timeout 90 \
    --step "available:early $n" --step "away:late $n" > "$jout" 2>&1 &
  local jpid=$!
  wait_grep "$jout" '^READY' 15 "$jpid" || { fail "juliet could not log in at Prosody"; show juliet "$jout"; return 1; }
  BOUND=100 timeout -k 5 100 "$VENV/bin/python" "$INTEROP/clients/sip_watcher.py" --id sip:alice@sip.test \
    --registrar "sip:sip.test;transport=tls" --proxy "sip:$KAM_IP:5061;transport=tls;lr" \
    --ca "$CERTS/ca.crt" --cert "$CERTS/sip.test.crt" --key "$CERTS/sip.test.key" \
    --local-ip "${UA_IP[alice]}" --watch sip:juliet@xmpp.test --until "note=late $n" --timeout 90 \
    --log-file "$plog" > "$wout" 2>&1
  local wrc=$?
  wait_pid "$jpid" 30 || true
  show "juliet" "$jout"; show "alice" "$wout"
  [ "$wrc" = 0 ] || fail "alice did not see juliet's last change: $(grep -E '^(SUB|PRES|FAIL)' "$wout" | tail -3 | tr '\n' '|')"
  local refreshes
  refreshes="$(python3 - "$plog" <<'PY'
import re, sys
msgs = open(sys.argv[1], encoding="utf-8", errors="replace").read().split("--end msg--")
# In-dialog refreshes alice sent, and parley's 200s to them with the granted 20 s.
sent = [m for m in msgs if "TX" in m and re.search(r"^SUBSCRIBE sip:", m, re.M)
        and re.search(r"^To:.*;tag=", m, re.M) and not re.search(r"^Expires: 0", m, re.M)]
ok = [m for m in msgs if "RX" in m and re.search(r"^SIP/2.0 200 ", m, re.M)
      and re.search(r"^CSeq: \d+ SUBSCRIBE", m, re.M) and re.search(r"^Expires: 20\s*$", m, re.M)]
bad = [m for m in msgs if "RX" in m and re.search(r"^SIP/2.0 481 ", m, re.M)]
print(f"{len(sent)} {len(ok)} {len(bad)}")
PY
)"
  log "alice's refreshes: sent, answered 200 with Expires: 20, answered 481: $refreshes"
  read -r sent ok bad <<< "$refreshes"
  [ "${ok:-0}" -ge 3 ] || fail "fewer than 3 refreshes answered 200 with Expires: 20 (sent, 200, 481: $refreshes)"
  [ "${bad:-1}" = 0 ] || fail "a refresh was answered 481 (sent, 200, 481: $refreshes)"
  [ -z "$REASON" ]
}
# session-mode IM (issue 7): a SIPp UAC (sipp/session_uac.xml) opens an IM session with
# juliet@xmpp.test through Kamailio the way a Skype for Business / Lync edge does (INVITE with
# SDP m=message ... sip), sends a MESSAGE in the dialog, waits for juliet's answer as an
# in-dialog MESSAGE, then hangs up with BYE. juliet (slixmpp) must see the message on a thread,
# her reply must reach SIPp in the dialog, and the BYE must reach her as XEP-0085 <gone/>.
sc_session_mode_im() {
  local tag=session n; n="$(nonce)"
  local jout="$SC_DIR/$tag.juliet.out" sout="$SC_DIR/$tag.sipp.out" msgs="$SC_DIR/$tag.sipp.msg"
  local body="Session hello $n" reply="Session reply $n" rc=0
  command -v sipp >/dev/null || { fail "no sipp: run protocol-tests/interop/install.sh"; return 1; }
  # SIPp ends the body with its line break, so juliet sees it too (XML turns CRLF into LF).
  BOUND=45 xmpp_client --jid juliet@xmpp.test --server "$XMPP_IP" --expect-body "$body"$'\n' \
    --expect-from sipp@sip.test --expect-gone --reply "$reply" --timeout 35 > "$jout" 2>&1 &
  local jpid=$!
  wait_grep "$jout" '^READY' 15 "$jpid" || { fail "juliet could not log in at Prosody"; show juliet "$jout"; return 1; }
  timeout -k 5 40 sipp -sf "$HERE/sipp/session_uac.xml" -t u1 -i "${UA_IP[alice]}" -p 5090 -m 1 \
    -s juliet -key to_domain xmpp.test -key from_user sipp -key body "$body" -nostdin \
    -timeout 30s -timeout_error -trace_msg -message_file "$msgs" "$KAM_IP:5060" > "$sout" 2>&1 || rc=$?
  wait_pid "$jpid" 10 || true
  show juliet "$jout"
  grep -aE '^(MESSAGE|BYE|SIP/2.0)' "$msgs" 2>/dev/null | sed "s/^/[sipp] /" >> "$LOG" || true
  [ "$rc" = 0 ] || fail "SIPp's session scenario failed (exit $rc, see $msgs)"
  grep -qFx -- "RECV type=chat from=sipp@sip.test to=juliet@xmpp.test body=$body\\n" "$jout" \
    || fail "juliet did not see the in-session message"
  grep -qE '^RECV-DETAIL from=sipp@sip.test.* thread=[^ ]+ ' "$jout" || fail "the session message had no thread"
  grep -qE '^CHATSTATE state=gone from=sipp@sip.test ' "$jout" || fail "juliet saw no <gone/> after the BYE"
  grep -qF -- "$reply" "$msgs" 2>/dev/null || fail "SIPp did not get juliet's reply in the dialog"
  [ -z "$REASON" ]
}
# UDP retransmission (issue 7): parley reaches the SIP domain udp.test over UDP, straight at
# a SIPp UAS (sipp/udp_uas_slow.xml, 127.0.0.6:5070) that leaves the first copy of the MESSAGE
# unanswered for 1.2 s. parley must retransmit (Timer E), SIPp must see at least 2 copies
# before it answers, and juliet (the XMPP sender) must get no error back.
# Prosody 0.12 sends no SNI on s2s STARTTLS, so it only reaches parley's first SIP domain
# (sip.test); juliet's message to bob@udp.test therefore enters through a raw s2s stream
# authenticated as xmpp.test (clients/s2s_raw.py, SASL EXTERNAL), from her logged-in full JID,
# so an error, if parley sent one, would come back to her through Prosody.
sc_udp_retransmission() {
  local tag=udp n; n="$(nonce)"
  local jout="$SC_DIR/$tag.juliet.out" sout="$SC_DIR/$tag.sipp.out" msgs="$SC_DIR/$tag.sipp.msg"
  local rout="$SC_DIR/$tag.s2s.out" body="Over UDP $n" rc=0 copies full
  command -v sipp >/dev/null || { fail "no sipp: run protocol-tests/interop/install.sh"; return 1; }
  BOUND=30 xmpp_client --jid juliet@xmpp.test --server "$XMPP_IP" --hold-file "$SC_DIR/$tag.done" \
    --timeout 20 > "$jout" 2>&1 &
  local jpid=$!
  wait_grep "$jout" '^READY' 15 "$jpid" || { fail "juliet could not log in at Prosody"; show juliet "$jout"; return 1; }
  full="$(sed -n 's/^READY //p' "$jout" | head -1)"
  timeout -k 5 30 sipp -sf "$HERE/sipp/udp_uas_slow.xml" -t u1 -i "${UA_IP[alice]}" -p 5070 -m 1 \
    -nostdin -timeout 25s -trace_msg -message_file "$msgs" > "$sout" 2>&1 &
  local spid=$!
  wait_udp "${UA_IP[alice]}" 5070 10 || { fail "SIPp did not bind ${UA_IP[alice]}:5070"; return 1; }
  timeout -k 5 20 "$VENV/bin/python" "$INTEROP/clients/s2s_raw.py" --server "$GW_XMPP_IP" \
    --from xmpp.test --to udp.test --ca "$CERTS/ca.crt" --cert "$CERTS/xmpp.test.crt" \
    --key "$CERTS/xmpp.test.key" --timeout 3 \
    --stanza "<message type='chat' from='$full' to='bob@udp.test' id='udp-$n'><body>$body</body></message>" \
    > "$rout" 2>&1 || fail "the raw s2s stream to udp.test failed: $(grep -m1 -E '^(FAIL|STREAM-ERROR|SASL)' "$rout")"
  wait_pid "$spid" 25 || rc=$?
  sleep 1   # an error stanza, if any, comes right after the final response
  touch "$SC_DIR/$tag.done"
  kill -TERM "$jpid" 2>/dev/null; wait_pid "$jpid" 5 || true
  show juliet "$jout"; show s2s "$rout"
  copies="$(grep -ac "^MESSAGE sip:bob@udp.test" "$msgs" 2>/dev/null)"
  log "  SIPp saw ${copies:-0} copies of the MESSAGE"
  echo "[sipp] received ${copies:-0} copies of the MESSAGE" >> "$LOG"
  [ "$rc" = 0 ] || fail "SIPp's UAS scenario failed (exit $rc, see $msgs)"
  [ "${copies:-0}" -ge 2 ] || fail "SIPp saw ${copies:-0} copies of the MESSAGE, wanted a retransmission"
  grep -aqF -- "$body" "$msgs" 2>/dev/null || fail "SIPp did not get the body"
  ! grep -q '^ERROR' "$jout" || fail "juliet got an error back: $(grep -m1 '^ERROR' "$jout")"
  [ -z "$REASON" ]
}
# events (issue 5): typing and delivery receipts both ways between juliet's slixmpp
# (xmpp_events.py: XEP-0085, XEP-0184 with auto-ack, XEP-0444) and bob's pjsua2
# (sip_events.py: pjsua's own RFC 3994 typing indications, RFC 5438 IMDN in CPIM) through
# Kamailio. Each side asserts what it received: bob the isComposing from juliet, her message
# asking for a receipt with her stanza id as imdn.Message-ID, and the IMDN about his own
# message naming the id he chose; juliet bob's <composing/>, his message with <request/>, and
# the <received/> naming her id. Juliet's reaction reaches bob as its readable text.
sc_events_both_ways() {
  local tag=events n; n="$(nonce)"
  local bout="$SC_DIR/$tag.bob.out" jout="$SC_DIR/$tag.juliet.out" rc=0
  local jbody="Read me $n" bbody="Receipt please $n"
  BOUND=60 timeout -k 5 60 "$VENV/bin/python" "$INTEROP/clients/sip_events.py" --id sip:bob@sip.test \
    --registrar "sip:sip.test;transport=tls" --proxy "sip:$KAM_IP:5061;transport=tls;lr" \
    --ca "$CERTS/ca.crt" --cert "$CERTS/sip.test.crt" --key "$CERTS/sip.test.key" \
    --local-ip "${UA_IP[bob]}" --peer sip:juliet@xmpp.test --body "$bbody" --imdn-id "bob-$n" \
    --linger 5 --timeout 45 --log-file "$SC_DIR/$tag.bob.pjsip.log" > "$bout" 2>&1 &
  local bpid=$!
  wait_grep "$bout" '^READY' 15 "$bpid" || { fail "bob could not register at Kamailio"; show bob "$bout"; return 1; }
  BOUND=60 xmpp_client_script xmpp_events.py --jid juliet@xmpp.test --server "$XMPP_IP" \
    --peer bob@sip.test --body "$jbody" --id "jul-$n" --timeout 40 > "$jout" 2>&1 || rc=$?
  wait_pid "$bpid" 50 || true
  show juliet "$jout"; show bob "$bout"
  [ "$rc" = 0 ] || fail "juliet's client failed (exit $rc): $(grep -m1 '^FAIL' "$jout")"
  grep -qx "TYPING from=sip:juliet@xmpp.test typing=1" "$bout" || fail "bob saw no typing indication from juliet"
  grep -qFx "RECV from=sip:juliet@xmpp.test content_type=message/cpim imdn_id=jul-$n dn=positive-delivery body=$jbody" "$bout" \
    || fail "bob did not get juliet's message asking for a receipt: $(grep -m1 '^RECV' "$bout")"
  grep -qx "RECEIPT id=bob-$n status=delivered from=sip:juliet@xmpp.test" "$bout" \
    || fail "bob got no delivery notification naming bob-$n: $(grep -m1 '^RECEIPT' "$bout")"
  grep -qx "SENT what=imdn status=202" "$bout" || fail "bob's IMDN was not accepted: $(grep -m1 '^SENT what=imdn' "$bout")"
  grep -qx "CHATSTATE state=composing from=bob@sip.test" "$jout" || fail "juliet saw no <composing/> from bob"
  grep -qE "^RECV from=bob@sip.test id=[^ ]+ receipt_requested=1 body=$bbody\$" "$jout" \
    || fail "juliet did not get bob's message with a receipt request: $(grep -m1 '^RECV' "$jout")"
  grep -qx "RECEIPT id=jul-$n from=bob@sip.test" "$jout" || fail "juliet got no receipt naming jul-$n"
  grep -qFx "RECV from=sip:juliet@xmpp.test content_type=text/plain imdn_id= dn= body=reacted 👍 to an earlier message" "$bout" \
    || fail "bob did not get juliet's reaction as text: $(grep 'RECV' "$bout" | tail -1)"
  [ -z "$REASON" ]
}
# session-mode IM over UDP (issue 7): parley reaches udpim.test (im_mode = "session") over UDP,
# straight at a SIPp UAS (sipp/udp_session_uas.xml, 127.0.0.7:5072) that leaves the first
# INVITE unanswered for 1.2 s. juliet's message to bob@udpim.test enters through a raw s2s
# stream as in udp-retransmission. parley must retransmit the INVITE (Timer A), ACK the 200,
# send the held message as an in-dialog MESSAGE, and end the dialog with BYE when juliet sends
# XEP-0085 <gone/>; SIPp answers each and exits 0. juliet must get no error back.
sc_session_mode_im_udp() {
  local tag=udpim n; n="$(nonce)"
  local jout="$SC_DIR/$tag.juliet.out" sout="$SC_DIR/$tag.sipp.out" msgs="$SC_DIR/$tag.sipp.msg"
  local rout="$SC_DIR/$tag.s2s.out" body="Session over UDP $n" rc=0 copies full
  command -v sipp >/dev/null || { fail "no sipp: run protocol-tests/interop/install.sh"; return 1; }
  BOUND=40 xmpp_client --jid juliet@xmpp.test --server "$XMPP_IP" --hold-file "$SC_DIR/$tag.done" \
    --timeout 30 > "$jout" 2>&1 &
  local jpid=$!
  wait_grep "$jout" '^READY' 15 "$jpid" || { fail "juliet could not log in at Prosody"; show juliet "$jout"; return 1; }
  full="$(sed -n 's/^READY //p' "$jout" | head -1)"
  timeout -k 5 35 sipp -sf "$HERE/sipp/udp_session_uas.xml" -t u1 -i "${UA_IP[bob]}" -p 5072 -m 1 \
    -nostdin -timeout 30s -timeout_error -trace_msg -message_file "$msgs" > "$sout" 2>&1 &
  local spid=$!
  wait_udp "${UA_IP[bob]}" 5072 10 || { fail "SIPp did not bind ${UA_IP[bob]}:5072"; return 1; }
  s2s_send() {
    timeout -k 5 20 "$VENV/bin/python" "$INTEROP/clients/s2s_raw.py" --server "$GW_XMPP_IP" \
      --from xmpp.test --to udpim.test --ca "$CERTS/ca.crt" --cert "$CERTS/xmpp.test.crt" \
      --key "$CERTS/xmpp.test.key" --timeout 3 --stanza "$1" >> "$rout" 2>&1
  }
  s2s_send "<message type='chat' from='$full' to='bob@udpim.test' id='udpim-$n'><body>$body</body></message>" \
    || fail "the raw s2s stream to udpim.test failed: $(grep -m1 -E '^(FAIL|STREAM-ERROR|SASL)' "$rout")"
  wait_grep "$msgs" "^MESSAGE sip:" 20 "$spid" || fail "SIPp got no MESSAGE in the dialog"
  s2s_send "<message type='chat' from='$full' to='bob@udpim.test' id='udpim-gone-$n'><gone xmlns='http://jabber.org/protocol/chatstates'/></message>" \
    || fail "the raw s2s stream to udpim.test failed for <gone/>"
  wait_pid "$spid" 25 || rc=$?
  sleep 1   # an error stanza, if any, comes right after the final response
  touch "$SC_DIR/$tag.done"
  kill -TERM "$jpid" 2>/dev/null; wait_pid "$jpid" 5 || true
  show juliet "$jout"; show s2s "$rout"
  grep -aE '^(INVITE|ACK|MESSAGE|BYE|SIP/2.0)' "$msgs" 2>/dev/null | sed "s/^/[sipp] /" >> "$LOG" || true
  copies="$(grep -ac "^INVITE sip:bob@udpim.test" "$msgs" 2>/dev/null)"
  log "  SIPp saw ${copies:-0} copies of the INVITE"
  [ "$rc" = 0 ] || fail "SIPp's UAS scenario failed (exit $rc, see $msgs)"
  [ "${copies:-0}" -ge 2 ] || fail "SIPp saw ${copies:-0} copies of the INVITE, wanted a retransmission"
  grep -aqF -- "$body" "$msgs" 2>/dev/null || fail "SIPp did not get the body in the dialog"
  grep -aq "^BYE sip:" "$msgs" 2>/dev/null || fail "SIPp got no BYE after juliet's <gone/>"
  ! grep -q '^ERROR' "$jout" || fail "juliet got an error back: $(grep -m1 '^ERROR' "$jout")"
  [ -z "$REASON" ]
}
# presence (issue 7): parley as subscriber over several refresh periods. juliet (slixmpp)
# watches carol@sip.test; Kamailio turns every SUBSCRIBE to carol into a 15 s request
# (kamailio.cfg), so carol's pjsua2 grants 15 s and parley must refresh in the dialog before
# each period ends. carol changes presence 20 s apart (three changes, about 60 s); juliet must
# see all three in order, and carol's pjsip log must show at least 3 in-dialog refreshes, each
# answered 200 (a lapsed subscription would end with no further NOTIFY reaching juliet).
sc_xmpp_watch_outlives_refreshes() {
  local tag=subrefresh n; n="$(nonce)"
  local cout="$SC_DIR/$tag.carol.out" jout="$SC_DIR/$tag.juliet.out" plog="$SC_DIR/$tag.carol.pjsip.log"
  BOUND=110 timeout -k 5 110 "$VENV/bin/python" "$INTEROP/clients/sip_presentity.py" --id sip:carol@sip.test \
    --registrar "sip:sip.test;transport=tls" --proxy "sip:$KAM_IP:5061;transport=tls;lr" \
    --ca "$CERTS/ca.crt" --cert "$CERTS/sip.test.crt" --key "$CERTS/sip.test.key" \
    --local-ip 127.0.0.8 --delay 20 --linger 4 --timeout 100 \
    --step "online:first $n" --step "away:second $n" --step "busy:third $n" \
    --log-file "$plog" > "$cout" 2>&1 &
  local cpid=$!
  wait_grep "$cout" '^READY' 15 "$cpid" || { fail "carol could not register at Kamailio"; show carol "$cout"; return 1; }
  BOUND=100 xmpp_client_script xmpp_watcher.py --jid juliet@xmpp.test --server "$XMPP_IP" \
    --watch carol@sip.test --until "status=third $n" --unsubscribe --timeout 90 > "$jout" 2>&1
  wait_pid "$cpid" 30 || true
  show carol "$cout"; show juliet "$jout"
  python3 - "$jout" "$n" <<'PY' || fail "juliet saw: $(grep -E '^(SUBSCRIBED|PRESENCE|ERROR|FAIL)' "$jout" | tr '\n' '|')"
import re, sys
lines = [l.strip() for l in open(sys.argv[1], encoding="utf-8")]
n = sys.argv[2]
want = [r"^SUBSCRIBED from=carol@sip.test", r"type=available show= status=first " + n,
        r"type=available show=away status=second " + n, r"type=available show=dnd status=third " + n]
i = 0
for l in lines:
    if i < len(want) and re.search(want[i], l):
        i += 1
sys.exit(0 if i == len(want) else 1)
PY
  local refreshes
  refreshes="$(python3 - "$plog" <<'PY'
import re, sys
msgs = open(sys.argv[1], encoding="utf-8", errors="replace").read().split("--end msg--")
# In-dialog refreshes carol received, and her 200s granting 15 s.
got = [m for m in msgs if "RX" in m and re.search(r"^SUBSCRIBE sip:", m, re.M)
       and re.search(r"^To:.*;tag=", m, re.M) and not re.search(r"^Expires: 0", m, re.M)]
ok = [m for m in msgs if "TX" in m and re.search(r"^SIP/2.0 200 ", m, re.M)
      and re.search(r"^CSeq: \d+ SUBSCRIBE", m, re.M) and re.search(r"^Expires: 1[0-5]\s*$", m, re.M)]
print(f"{len(got)} {len(ok)}")
PY
)"
  log "carol's subscription: refreshes received, 200s granting <=15 s: $refreshes"
  echo "[carol] refreshes received, 200s granting <=15 s: $refreshes" >> "$LOG"
  read -r got ok <<< "$refreshes"
  [ "${got:-0}" -ge 3 ] || fail "fewer than 3 refreshes reached carol (received, 200: $refreshes)"
  [ "${ok:-0}" -ge 4 ] || fail "carol did not grant short periods (received, 200: $refreshes)"
  [ -z "$REASON" ]
}
# self-tests: the same clients and peers, within one domain, no parley
sc_peers_xmpp_local() {
  deliver local xmpp romeo@xmpp.test xmpp juliet@xmpp.test "$UNICODE_BODY & <romeo> $(nonce)" \
    && bounce unknown xmpp romeo@xmpp.test nobody@xmpp.test
}
sc_peers_sip_local() {
  deliver local sip alice@sip.test sip bob@sip.test "$UNICODE_BODY & <alice> $(nonce)" \
    && bounce unknown sip alice@sip.test nobody@sip.test
}

run_scenario() {
  local name="$1"
  LOG="$RUN/$name.log"; SC_DIR="$RUN/$name"; REASON=""
  mkdir -p "$SC_DIR"; : > "$LOG"
  log "scenario $name"
  if [ -n "$PEER_PROBLEM" ]; then
    REASON="$PEER_PROBLEM"
  elif [ "$MODE" = gateway ] && [ -n "$PARLEY_PROBLEM" ]; then
    REASON="parley not running: $PARLEY_PROBLEM"
  elif [ "$MODE" = gateway ] && ! alive parley; then
    REASON="parley is no longer running (see $RUN/parley.log)"
  else
    "sc_${name//-/_}" || true
    if [ -n "$REASON" ] && [ "$MODE" = gateway ] && ! alive parley; then
      REASON="$REASON; parley has exited (see $RUN/parley.log)"
    fi
  fi
  if [ -z "$REASON" ]; then
    report "$name" OK "$LOG"
  else
    report "$name" "$REASON" "$LOG"
    { echo "--- $name: $REASON"; sed 's/^/    /' "$LOG" | head -40; } >&2
  fi
}

for s in "${SELECTED[@]}"; do run_scenario "$s"; done

# parley must stop on SIGTERM within its drain deadline and exit 0 (logged, not a scenario).
if [ "$MODE" = gateway ] && alive parley; then
  pid="$(pid_of parley)"; t0=$(date +%s)
  kill -TERM "$pid"
  rc=0; wait_pid "$pid" 15 || rc=$?
  log "parley: exit status $rc after SIGTERM in $(( $(date +%s) - t0 ))s"
  [ "$rc" = 0 ] || echo "note: parley exited with status $rc after SIGTERM (124: still running after 15s)" >&2
fi
if [ "$FAILED" != 0 ] && [ -s "$RUN/parley.log" ]; then
  { echo "--- last lines of $RUN/parley.log:"; tail -n 40 "$RUN/parley.log" | sed 's/\x1b\[[0-9;]*m//g; s/^/    /'; } >&2
fi
stop_all
summary

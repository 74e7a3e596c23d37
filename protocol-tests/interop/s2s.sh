#!/usr/bin/env bash
# XMPP server-to-server federation against real servers: parley as the XMPP server of sip.test
# (and the SIP edge of xmpp.test) federating with Prosody, then with ejabberd, as xmpp.test;
# Kamailio and pjsua2 UAs on the SIP side; all inside one private network + mount + PID namespace.
#
# usage: protocol-tests/interop/s2s.sh [SERVER/SCENARIO | SCENARIO | SERVER ...]   (default: all)
#   servers:   prosody ejabberd raw (raw: a scripted s2s initiator, no XMPP server)
#   scenarios: see SCENARIOS below and README.md ("Federation scenarios")
#
# Prints one line per scenario and server ("PASS server/name" / "FAIL server/name (see LOG):
# reason"), then "N passed, M failed" alone on the last line; exits non-zero on any failure.
# Diagnostics of failures go to stderr. Everything is under $RUN (default /tmp/parley-interop/s2s).
#
# Environment:
#   PARLEY_BIN          the gateway binary (default <repo>/target/debug/parley; built with
#                       "cargo build --bin parley", outside the namespace, if missing)
#   PARLEY_INTEROP_HOME where runs and the venv live (default /tmp/parley-interop)
#   PARLEY_INTEROP_RUN  this suite's run folder (default $PARLEY_INTEROP_HOME/s2s)
#   VERBOSE=1           harness progress on stderr as well as in $RUN/harness.log
# Needs root (unshare) and the peers from install.sh.
set -uo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
: "${PARLEY_INTEROP_RUN:=${PARLEY_INTEROP_HOME:-${TMPDIR:-/tmp}/parley-interop}/s2s}"
export PARLEY_INTEROP_RUN
. "$HERE/lib.sh"

SERVERS=(prosody ejabberd raw)
SCENARIOS=(external-both-ways dialback-both-ways direct-tls-both-ways restart-within-deadline
           down-past-deadline untrusted-cert-refused unauthenticated-domain-refused
           idle-stream-pinged)
RAW_SCENARIOS=(spoofed-from-refused)

# Address plan (as run.sh; see README.md).
XMPP_IP=127.0.0.2     # Prosody or ejabberd: xmpp.test (and other.test) c2s 5222, s2s 5269, direct TLS 5270
GW_XMPP_IP=127.0.0.3  # parley: sip.test's XMPP server, s2s 5269 (STARTTLS) and 5270 (direct TLS)
KAM_IP=127.0.0.4      # Kamailio: sip.test udp/tcp 5060, tls 5061
GW_SIP_IP=127.0.0.5   # parley: xmpp.test's SIP edge, tls 5061
declare -A UA_IP=([alice]=127.0.0.6 [bob]=127.0.0.7)
RECV_TIMEOUT=15       # seconds a receiver waits for its message
SEND_TIMEOUT=12       # seconds a sender waits for its answer
QUIET_TIMEOUT=8       # seconds a receiver waits to show that nothing arrives

ORIG_ARGS=("$@")
SELECTED=()
all_pairs() {
  local sv sc
  for sv in "${SERVERS[@]}"; do
    if [ "$sv" = raw ]; then for sc in "${RAW_SCENARIOS[@]}"; do echo "$sv/$sc"; done
    else for sc in "${SCENARIOS[@]}"; do echo "$sv/$sc"; done; fi
  done
}
for arg in "$@"; do
  case "$arg" in
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    -*) echo "unknown option $arg" >&2; exit 64 ;;
  esac
  found=0
  while read -r pair; do
    if [ "$arg" = "$pair" ] || [ "$arg" = "${pair%%/*}" ] || [ "$arg" = "${pair#*/}" ]; then
      SELECTED+=("$pair"); found=1
    fi
  done < <(all_pairs)
  [ $found = 1 ] || { echo "unknown server or scenario $arg" >&2; exit 64; }
done
[ ${#SELECTED[@]} -gt 0 ] || mapfile -t SELECTED < <(all_pairs)

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

# rogue_certs DIR: another CA, unrelated to the test CA and with another name, and an
# xmpp.test certificate from it with the same names as the real one (xmpp.test.crt/.key/.pem).
rogue_certs() {
  local d="$1"; mkdir -p "$d"
  openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 30 -keyout "$d/ca.key" -out "$d/ca.crt" \
    -subj "/O=Elsewhere/CN=Elsewhere Test CA (untrusted by parley)" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null &&
  openssl req -new -newkey rsa:2048 -nodes -sha256 -keyout "$d/xmpp.test.key" -subj "/O=Elsewhere/CN=xmpp.test" \
    -out "$d/xmpp.test.csr" 2>/dev/null &&
  printf '%s\n' "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature,keyEncipherment" \
    "extendedKeyUsage=serverAuth,clientAuth" \
    "subjectAltName=DNS:xmpp.test,DNS:*.xmpp.test,otherName:1.3.6.1.5.5.7.8.7;IA5:_xmpp-server.xmpp.test,IP:$XMPP_IP" \
    > "$d/ext.cnf" &&
  openssl x509 -req -in "$d/xmpp.test.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial -days 30 \
    -sha256 -extfile "$d/ext.cnf" -out "$d/xmpp.test.crt" 2>/dev/null &&
  cat "$d/xmpp.test.crt" "$d/xmpp.test.key" > "$d/xmpp.test.pem" && chmod 644 "$d"/*.key "$d"/*.pem
}

# ---- outside the namespace: checks, certificates, the parley binary ------------------------
if [ "${PARLEY_INTEROP_IN_NS:-}" != 1 ]; then
  rm -rf "$RUN"; mkdir -p "$RUN"; chmod 755 "$INTEROP_HOME" "$RUN"
  log "run folder $RUN, scenarios: ${SELECTED[*]}"
  [ "$(id -u)" = 0 ] || fail_all "must run as root (unshare, bind mounts)" "$RUN/harness.log"
  missing=()
  for c in unshare ip ss openssl prosody prosodyctl ejabberdctl kamailio timeout; do
    command -v "$c" >/dev/null || missing+=("$c")
  done
  [ -e "${KAMAILIO_MODULES:-/usr/lib/x86_64-linux-gnu/kamailio/modules}/tls.so" ] || missing+=(kamailio-tls-modules)
  "$VENV/bin/python" -c 'import slixmpp, pjsua2' 2>/dev/null || missing+=("venv $VENV with slixmpp+pjsua2")
  if [ ${#missing[@]} -gt 0 ]; then
    fail_all "missing ${missing[*]}: run protocol-tests/interop/install.sh" "$RUN/harness.log"
  fi
  # The test CA with xmpp.test and sip.test; and a second, unrelated CA ("rogue") that issues
  # another xmpp.test certificate, for the untrusted-certificate scenarios.
  { "$REPO/certs/make-certs.sh" -o "$CERTS" && rogue_certs "$RUN/rogue"; } \
    > "$RUN/certs.log" 2>&1 || fail_all "making the test certificates failed" "$RUN/certs.log"
  cat "$CERTS/ca.crt" "$RUN/rogue/ca.crt" > "$RUN/clients-ca.pem"
  chmod -R a+rX "$RUN"

  PARLEY_PROBLEM=""
  if [ -z "${PARLEY_BIN:-}" ]; then
    PARLEY_BIN="$REPO/target/debug/parley"
    if [ ! -x "$PARLEY_BIN" ]; then
      log "no $PARLEY_BIN: cargo build --bin parley"
      (cd "$REPO" && cargo build --bin parley) > "$RUN/cargo-build.log" 2>&1 \
        || PARLEY_PROBLEM="cargo build --bin parley failed (see $RUN/cargo-build.log)"
    fi
  fi
  [ -n "$PARLEY_PROBLEM" ] || [ -x "$PARLEY_BIN" ] || PARLEY_PROBLEM="no parley binary at $PARLEY_BIN"
  PARLEY_BIN="$(cd "$(dirname "$PARLEY_BIN")" 2>/dev/null && pwd)/$(basename "$PARLEY_BIN")"
  export PARLEY_BIN PARLEY_PROBLEM
  ns_reexec "$0" "${ORIG_ARGS[@]}"
fi

# ---- inside the namespace ----------------------------------------------------------------
trap stop_all EXIT
ns_setup "$XMPP_IP xmpp.test" "$XMPP_IP other.test" "$GW_XMPP_IP sip.test" \
  || fail_all "could not set up the network namespace" "$RUN/harness.log"
[ -z "$PARLEY_PROBLEM" ] || fail_all "parley not available: $PARLEY_PROBLEM" "$RUN/harness.log"
kamailio_start "$KAM_IP" "$GW_SIP_IP" \
  || fail_all "Kamailio did not start (see $RUN/kamailio/kamailio.log)" "$RUN/harness.log"

strip_ansi() { sed 's/\x1b\[[0-9;]*m//g'; }

# kill_tree PID: TERM a process and its descendants (found through /proc, by PID), then KILL
# what is left after 5 s.
descendants() {
  local p c
  for p in "$@"; do
    for c in $(cat /proc/"$p"/task/*/children 2>/dev/null); do echo "$c"; descendants "$c"; done
  done
}
kill_tree() {
  local pids i
  pids="$1 $(descendants "$1")"
  kill -TERM $pids 2>/dev/null
  for i in $(seq 1 50); do
    kill -0 $pids 2>/dev/null || return 0
    sleep 0.1
  done
  kill -KILL $pids 2>/dev/null
  return 0
}
# port_free IP PORT SECONDS: until nothing listens on IP:PORT.
port_free() {
  local i
  for i in $(seq 1 $(($3 * 10))); do
    ss -ltn 2>/dev/null | grep " $1:$2 " > /dev/null || return 0
    sleep 0.1
  done
  return 1
}

# ---- the XMPP server of xmpp.test: Prosody or ejabberd, in a mode -------------------------
# Modes: ext (SASL EXTERNAL both ways), dialback (no EXTERNAL: XEP-0220 only), directtls
# (Prosody also dials parley with direct TLS), offline (offline storage on, for restarts),
# untrusted (its certificate comes from another CA), otherdomain (also serves other.test,
# for which it has no certificate: it presents xmpp.test's).
PEER=""; PEER_MODE=""; PEER_LOG=""; PEER_LOG_FROM=""
peer_start() { # peer_start SERVER MODE
  PEER="$1"; PEER_MODE="$2"
  if [ "$PEER" = prosody ]; then PEER_LOG="$RUN/prosody/prosody.log"; else PEER_LOG="$RUN/ejabberd/logs/ejabberd.log"; fi
  # The server's log is kept across scenarios: checks read only this scenario's part.
  [ -n "$PEER_LOG_FROM" ] || PEER_LOG_FROM=$(( $(cat "$PEER_LOG" 2>/dev/null | wc -l) + 1 ))
  if [ "$PEER" = prosody ]; then prosody_up; else ejabberd_up; fi
}
peer_log() { tail -n "+${PEER_LOG_FROM:-1}" "$PEER_LOG" 2>/dev/null; }
peer_stop() {
  [ -n "$PEER" ] || return 0
  if [ "$PEER" = prosody ]; then
    local p; p="$(pid_of prosody)"
    [ -n "$p" ] && kill_tree "$p"
  else
    local p; p="$(pid_of ejabberd)"
    timeout 20 "${EJCTL[@]}" stop > /dev/null 2>&1 || true
    [ -n "$p" ] && { wait_pid "$p" 15 > /dev/null 2>&1 || kill_tree "$p"; }
  fi
  port_free "$XMPP_IP" 5222 10 && port_free "$XMPP_IP" 5269 10
}

prosody_up() {
  local d="$RUN/prosody"; mkdir -p "$d/data"
  local g="$d/global.lua" h="$d/hosts.lua" users=(juliet)
  echo "-- mode $PEER_MODE" > "$g"; echo "-- mode $PEER_MODE" > "$h"
  local certs="$CERTS"
  case "$PEER_MODE" in
    ext) ;;
    dialback)
      # Without s2s_auth_certs it never marks a certificate valid, so it offers no SASL
      # EXTERNAL; s2s_dialback_only keeps it from using EXTERNAL on its own streams. XEP-0220
      # both ways, over TLS (it then cannot insist on a valid certificate: s2s_secure_auth off).
      printf '%s\n' 'modules_enabled = { "roster"; "saslauth"; "tls"; "dialback"; "disco"; "ping";' \
        '  "presence"; "message"; "posix"; "s2s_pin"; "s2s_dialback_only" }' \
        'modules_disabled = { "offline"; "s2s_auth_certs" }' 's2s_secure_auth = false' >> "$g" ;;
    directtls)
      # Prosody dials direct TLS only for _xmpps-server SRV records; there is no DNS here, so
      # the pin module sends sip.test to parley's direct-TLS listener.
      echo 's2s_pin = { ["sip.test"] = { "'"$GW_XMPP_IP"'", 5270, "direct_tls" } }' >> "$g" ;;
    offline) echo 'modules_disabled = { }' >> "$g" ;;
    untrusted) certs="$RUN/rogue" ;;
    otherdomain)
      printf '%s\n' 'VirtualHost "other.test"' \
        "ssl = { certificate = \"$CERTS/xmpp.test.crt\"; key = \"$CERTS/xmpp.test.key\" }" >> "$h"
      users+=(mallory@other.test) ;;
  esac
  render "$INTEROP/prosody/s2s.cfg.lua.in" "$d/prosody.cfg.lua" RUN="$d" CERTS="$certs" \
    CA="$CERTS/ca.crt" DOMAIN=xmpp.test IP="$XMPP_IP" MODULES="$INTEROP/prosody/modules" \
    GLOBAL="$g" HOSTS="$h"
  local u
  for u in "${users[@]}"; do
    case "$u" in *@*) ;; *) u="$u@xmpp.test" ;; esac
    prosodyctl --config "$d/prosody.cfg.lua" register "${u%@*}" "${u#*@}" pass >> "$d/prosodyctl.out" 2>&1 \
      || { log "prosodyctl register $u failed"; return 1; }
  done
  start_bg prosody "$d/prosody.out" prosody -F --config "$d/prosody.cfg.lua"
  wait_tcp "$XMPP_IP" 5222 20 prosody && wait_tcp "$XMPP_IP" 5269 20 prosody \
    && wait_tcp "$XMPP_IP" 5270 20 prosody
}

EJCTL=()
ejabberd_up() {
  local d="$RUN/ejabberd"; mkdir -p "$d/etc" "$d/logs" "$d/spool"
  local hosts="" certfiles="\"$CERTS/xmpp.test.pem\"" ca="$CERTS/ca.crt" modules="" users=(juliet@xmpp.test)
  case "$PEER_MODE" in
    ext|directtls) ;;
    dialback)
      # It cannot verify parley's certificate (trusts only the other CA), so it offers no
      # SASL EXTERNAL and authenticates parley by dialback; and it speaks dialback itself.
      ca="$RUN/rogue/ca.crt"; modules=", mod_s2s_dialback: {}" ;;
    offline) modules=", mod_offline: {}" ;;
    untrusted) certfiles="\"$RUN/rogue/xmpp.test.pem\""; modules=", mod_s2s_dialback: {}" ;;
    otherdomain)
      hosts=', "other.test"'; modules=", mod_s2s_dialback: {}"; users+=(mallory@other.test) ;;
  esac
  render "$INTEROP/ejabberd/ejabberd.yml.in" "$d/etc/ejabberd.yml" DOMAIN=xmpp.test IP="$XMPP_IP" \
    HOSTS="$hosts" CERTFILES="$certfiles" CA="$ca" MODULES="$modules" S2S_PORT=5269
  render "$INTEROP/ejabberd/ejabberdctl.cfg.in" "$d/etc/ejabberdctl.cfg" RUN="$d"
  cp "$INTEROP/ejabberd/inetrc" "$d/etc/inetrc"
  chown -R ejabberd:ejabberd "$d"
  EJCTL=(ejabberdctl --config-dir "$d/etc" --logs "$d/logs" --spool "$d/spool")
  start_bg ejabberd "$d/foreground.out" "${EJCTL[@]}" foreground
  wait_tcp "$XMPP_IP" 5222 60 ejabberd && wait_tcp "$XMPP_IP" 5269 20 ejabberd || return 1
  local i u
  for i in $(seq 1 30); do timeout 10 "${EJCTL[@]}" status > /dev/null 2>&1 && break; sleep 0.5; done
  for u in "${users[@]}"; do
    [ -e "$d/registered.$u" ] && continue
    timeout 20 "${EJCTL[@]}" register "${u%@*}" "${u#*@}" pass >> "$d/ejabberdctl.out" 2>&1 \
      || { log "ejabberdctl register $u failed"; return 1; }
    touch "$d/registered.$u"
  done
}

# ---- parley -------------------------------------------------------------------------------
# parley_up SCENARIO_DIR KEY=VALUE...: write $SC_DIR/parley.toml and start parley.
#   next_hop=HOST:PORT (xmpp.test's next hop, default 127.0.0.2:5269)  direct_tls=true
#   delivery_ms=N (xmpp.delivery_timeout_ms)  other=1 (other.test configured as an XMPP domain)
parley_up() {
  local next_hop="$XMPP_IP:5269" direct_tls=false delivery_ms=20000 other=0 ping_ms=60000 kv
  for kv in "$@"; do
    case "$kv" in
      next_hop=*) next_hop="${kv#*=}" ;; direct_tls=*) direct_tls="${kv#*=}" ;;
      delivery_ms=*) delivery_ms="${kv#*=}" ;; other=*) other="${kv#*=}" ;;
      ping_ms=*) ping_ms="${kv#*=}" ;;
    esac
  done
  mkdir -p "$SC_DIR/state"
  cat > "$SC_DIR/parley.toml" <<EOF
# written by s2s.sh for scenario $SC_NAME
state_dir = "$SC_DIR/state"

[log]
level = "debug"
format = "plain"

[tls]
ca_file = "$CERTS/ca.crt"

[audit]
output = "off"

[sip]
listen_tls = ["$GW_SIP_IP:5061"]

[xmpp]
listen = ["$GW_XMPP_IP:5269"]
listen_tls = ["$GW_XMPP_IP:5270"]
delivery_timeout_ms = $delivery_ms
ping_interval_ms = $ping_ms

[[domain]]
name = "sip.test"
side = "sip"
next_hop = "$KAM_IP:5061"
cert_file = "$CERTS/sip.test.crt"
key_file = "$CERTS/sip.test.key"

[[domain]]
name = "xmpp.test"
side = "xmpp"
next_hop = "$next_hop"
direct_tls = $direct_tls
cert_file = "$CERTS/xmpp.test.crt"
key_file = "$CERTS/xmpp.test.key"
EOF
  if [ "$other" = 1 ]; then
    # A configured XMPP domain without next_hop: found through the private /etc/hosts.
    # (Every domain names its certificate or none does; other.test's SIP edge is not used here.)
    printf '%s\n' '' '[[domain]]' 'name = "other.test"' 'side = "xmpp"' \
      "cert_file = \"$CERTS/xmpp.test.crt\"" "key_file = \"$CERTS/xmpp.test.key\"" >> "$SC_DIR/parley.toml"
  fi
  PARLEY_LOG="$SC_DIR/parley.log"
  start_bg parley "$PARLEY_LOG" env RUST_BACKTRACE=1 NO_COLOR=1 "$PARLEY_BIN" run --config "$SC_DIR/parley.toml"
  wait_tcp "$GW_XMPP_IP" 5269 30 parley && wait_tcp "$GW_XMPP_IP" 5270 10 parley \
    && wait_tcp "$GW_SIP_IP" 5061 10 parley
}
parley_down() {
  local p; p="$(pid_of parley)"
  [ -n "$p" ] && kill -0 "$p" 2>/dev/null && { kill -TERM "$p"; wait_pid "$p" 15 > /dev/null 2>&1 || true; }
  return 0
}
# parley_lines REGEX: parley's log lines matching REGEX (no colours), at most 5.
# DEBUG and TRACE lines do not count: a refusal has to be visible at the default level.
parley_lines() {
  strip_ansi < "$PARLEY_LOG" 2>/dev/null | grep -E ' (INFO|WARN|ERROR) ' | grep -v 'parley ready' \
    | grep -iE "$1" | head -3
}

# ---- clients -------------------------------------------------------------------------------
REASON=""
fail() { REASON="${REASON:+$REASON; }$*"; log "  $*"; }
show() { grep -avE '^[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3} ' "$2" 2>/dev/null | sed "s/^/[$1] /" >> "$LOG" || true; }
nonce() { printf '%04x%04x' $RANDOM $RANDOM; }

# xmpp_c JID ARGS...: the slixmpp client at the XMPP server (trusting both CAs: in the
# untrusted scenarios the server's own certificate comes from the other CA).
xmpp_c() {
  local nv=(); [ "${NO_VERIFY:-0}" = 1 ] && nv=(--no-verify)
  xmpp_client --server "$XMPP_IP" --ca "$RUN/clients-ca.pem" "${nv[@]}" --jid "$@"
}
# sip_c USER ARGS...: the pjsua2 UA registered at Kamailio.
sip_c() { local u="$1"; shift; sip_ua "$u" "${UA_IP[$u]}" --log-file "$SC_DIR/$u.$(nonce).pjsip.log" "$@"; }
# sip_direct USER ARGS...: the UA without registration, its requests straight to parley's SIP
# edge (no proxy timer in between: Kamailio's fr_timer is 5 s).
sip_direct() {
  local u="$1"; shift
  timeout -k 5 "${BOUND:-60}" "$VENV/bin/python" "$INTEROP/clients/sip_ua.py" --id "sip:$u@sip.test" \
    --registrar "sip:sip.test;transport=tls" --proxy "sip:$GW_SIP_IP:5061;transport=tls;lr" --no-register \
    --ca "$CERTS/ca.crt" --cert "$CERTS/sip.test.crt" --key "$CERTS/sip.test.key" \
    --local-ip "${UA_IP[$u]}" --log-file "$SC_DIR/$u.direct.$(nonce).pjsip.log" "$@"
}

# start_receiver TAG KIND WHO BODY FROM TIMEOUT: in the background, until READY.
start_receiver() {
  local tag="$1" kind="$2" who="$3" body="$4" from="$5" t="$6"
  RECV_OUT="$SC_DIR/$tag.recv.out"
  if [ "$kind" = xmpp ]; then
    BOUND=$((t + 10)) xmpp_c "$who" --expect-body "$body" --expect-from "$from" --timeout "$t" > "$RECV_OUT" 2>&1 &
  else
    BOUND=$((t + 10)) sip_c "${who%@*}" --expect-body "$body" --expect-from "sip:$from" --timeout "$t" > "$RECV_OUT" 2>&1 &
  fi
  RECV_PID=$!
  wait_grep "$RECV_OUT" '^READY' 20 "$RECV_PID" && return 0
  fail "$who could not log in or register"
  return 1
}

# deliver TAG FROM_KIND FROM TO BODY: FROM sends BODY to TO (the other kind); TO must see
# exactly sender, recipient and body; a SIP sender must get a 2xx.
deliver() {
  local tag="$1" fk="$2" from="$3" to="$4" body="$5" tk=sip send_out="$SC_DIR/$1.send.out" rc=0
  [ "$fk" = sip ] && tk=xmpp
  log "  $tag: $from ($fk) -> $to ($tk)"
  if start_receiver "$tag" "$tk" "$to" "$body" "$from" "$RECV_TIMEOUT"; then
    if [ "$fk" = xmpp ]; then
      BOUND=$((RECV_TIMEOUT + 15)) xmpp_c "$from" --send "$to" --body "$body" \
        --hold-file "$SC_DIR/$tag.done" --timeout "$((RECV_TIMEOUT + 5))" > "$send_out" 2>&1 &
    else
      BOUND=$((SEND_TIMEOUT + 10)) sip_c "${from%@*}" --send "sip:$to" --body "$body" \
        --timeout "$SEND_TIMEOUT" > "$send_out" 2>&1 &
    fi
    local send_pid=$!
    wait_pid "$RECV_PID" $((RECV_TIMEOUT + 12)) || rc=$?
    touch "$SC_DIR/$tag.done"
    wait_pid "$send_pid" $((SEND_TIMEOUT + 12)) || true
  else
    wait_pid "$RECV_PID" 5 || true
  fi
  show "$tag recv $to" "$RECV_OUT"; show "$tag send $from" "$send_out"
  check_sent "$fk" "$from" "$send_out" 2xx
  check_received "$tk" "$from" "$to" "$body" "$RECV_OUT"
  [ -z "$REASON" ]
}
# check_sent KIND FROM OUT 2xx|error: what the sender got back.
check_sent() {
  local fk="$1" from="$2" out="$3" want="$4" st
  if [ "$fk" = sip ]; then
    st="$(sed -n 's/^SENT .*status=\([0-9]*\).*/\1/p' "$out" 2>/dev/null | head -1)"
    if [ -z "$st" ]; then fail "$from got no final response to its MESSAGE"
    elif [ "$want" = 2xx ] && { [ "$st" -lt 200 ] || [ "$st" -ge 300 ]; }; then
      fail "$from's MESSAGE was answered $(sed -n 's/^SENT .*status=\([0-9]*\) reason=/\1 /p' "$out" | head -1)"
    elif [ "$want" = error ] && [ "$st" -lt 300 ]; then fail "$from's MESSAGE was answered $st (delivered?)"
    elif [ "$want" = error ] && [ "$st" = 408 ]; then fail "$from got 408 (nobody answered in time)"
    fi
  elif [ "$want" = 2xx ] && grep -q '^ERROR' "$out" 2>/dev/null; then
    fail "$from got an error stanza back: $(grep -m1 '^ERROR' "$out")"
  fi
}
check_received() {
  local tk="$1" from="$2" to="$3" body="$4" out="$5" want got
  if [ "$tk" = xmpp ]; then want="RECV type=chat from=$from to=$to body=$body"
  else want="RECV from=sip:$from to=sip:$to body=$body"; fi
  grep -qFx -- "$want" "$out" 2>/dev/null && return 0
  got="$(grep -m1 '^RECV ' "$out" 2>/dev/null)"
  if [ -n "$got" ]; then fail "$to saw [$got], wanted [$want]"
  else fail "$to received nothing within ${RECV_TIMEOUT}s"; fi
}

# refused TAG FROM_KIND FROM TO: FROM sends to TO; TO must receive nothing within QUIET_TIMEOUT,
# a SIP sender must get an error final response (an XMPP sender's bounce is only logged).
refused() {
  local tag="$1" fk="$2" from="$3" to="$4" tk=sip body send_out="$SC_DIR/$1.send.out"
  [ "$fk" = sip ] && tk=xmpp
  body="must not arrive ($tag) $(nonce)"
  log "  $tag: $from ($fk) -> $to ($tk), expecting a refusal"
  start_receiver "$tag" "$tk" "$to" "$body" "$from" "$QUIET_TIMEOUT" || return 1
  if [ "$fk" = xmpp ]; then
    BOUND=$((QUIET_TIMEOUT + 10)) xmpp_c "$from" --send "$to" --body "$body" --expect-error \
      --timeout "$QUIET_TIMEOUT" > "$send_out" 2>&1 &
  else
    BOUND=$((SEND_TIMEOUT + 10)) sip_c "${from%@*}" --send "sip:$to" --body "$body" --expect-error \
      --timeout "$SEND_TIMEOUT" > "$send_out" 2>&1 &
  fi
  local send_pid=$!
  wait_pid "$RECV_PID" $((QUIET_TIMEOUT + 12)) || true
  wait_pid "$send_pid" $((SEND_TIMEOUT + 12)) || true
  show "$tag recv $to" "$RECV_OUT"; show "$tag send $from" "$send_out"
  if grep -qF -- "body=$body" "$RECV_OUT" 2>/dev/null; then fail "$to received the message: it was not refused"; fi
  [ "$fk" = sip ] && check_sent sip "$from" "$send_out" error
  log "  $from got: $(grep -m1 -E '^(SENT|ERROR)' "$send_out" 2>/dev/null)"
  [ -z "$REASON" ]
}

# peer_saw REGEX WHAT: the XMPP server's log must have a line matching REGEX.
peer_saw() {
  # (grep without -q: under pipefail an early exit would fail the pipeline with SIGPIPE.)
  if peer_log | grep -E "$1" > /dev/null; then
    echo "[$PEER log] $(peer_log | grep -m1 -E "$1")" >> "$LOG"
  else fail "$PEER's log shows no $2"; fi
}
# quote_parley REGEX WHAT: parley must have logged a line matching REGEX; quote it.
quote_parley() {
  local lines; lines="$(parley_lines "$1")"
  if [ -n "$lines" ]; then
    printf '%s\n' "$lines" | sed 's/^/[parley log] /' >> "$LOG"
  else fail "parley logged no $2"; fi
}

# Auth lines of each server, per direction (from their logs at these log levels).
auth_re() { # auth_re SERVER in|out external|dialback   (in: parley -> server; out: server -> parley)
  case "$1/$2/$3" in
    prosody/out/external) echo 'SASL EXTERNAL with sip.test succeeded' ;;
    prosody/in/external)  echo 'Accepting SASL EXTERNAL identity from sip.test' ;;
    prosody/out/dialback) echo 's2sout.*(verified|authenticated).*|dialback.*sip.test.*valid' ;;
    prosody/in/dialback)  echo 's2sin.*sip.test.*(verified dialback|is now authenticated)' ;;
    ejabberd/out/external) echo 'Accepted outbound s2s EXTERNAL authentication xmpp.test -> sip.test' ;;
    ejabberd/in/external)  echo 'Accepted inbound s2s EXTERNAL authentication sip.test -> xmpp.test' ;;
    ejabberd/out/dialback) echo 'Accepted outbound s2s dialback authentication xmpp.test -> sip.test' ;;
    ejabberd/in/dialback)  echo 'Accepted inbound s2s dialback authentication sip.test -> xmpp.test' ;;
  esac
}

# ---- scenarios ---------------------------------------------------------------------------
# Each: the XMPP server in a mode, parley with a configuration, then the checks.
both_ways() {
  deliver s2x sip alice@sip.test juliet@xmpp.test "From SIP to XMPP & <$SC_NAME> $(nonce)"
  deliver x2s xmpp juliet@xmpp.test bob@sip.test "From XMPP to SIP & <$SC_NAME> $(nonce)"
}

sc_external_both_ways() {
  peer_start "$SERVER" ext || { fail "$SERVER did not start"; return 1; }
  parley_up || { fail "parley did not start"; return 1; }
  both_ways
  peer_saw "$(auth_re "$SERVER" in external)" "SASL EXTERNAL from parley (inbound)"
  peer_saw "$(auth_re "$SERVER" out external)" "SASL EXTERNAL towards parley (outbound)"
}

sc_dialback_both_ways() {
  peer_start "$SERVER" dialback || { fail "$SERVER did not start"; return 1; }
  parley_up || { fail "parley did not start"; return 1; }
  both_ways
  peer_saw "$(auth_re "$SERVER" in dialback)" "dialback from parley (parley -> $SERVER)"
  if [ "$SERVER" = prosody ]; then
    peer_saw "$(auth_re "$SERVER" out dialback)" "dialback towards parley ($SERVER -> parley)"
  else
    # ejabberd 23.01 has no way to turn SASL EXTERNAL off: with a certificate that parley
    # accepts it always authenticates with EXTERNAL when offered. Only recorded here.
    echo "[note] ejabberd -> parley: $(peer_log | grep -m1 -oE 'Accepted outbound s2s [A-Za-z]+ authentication xmpp.test -> sip.test' || echo 'not authenticated')" >> "$LOG"
  fi
  local l; l="$(parley_lines 'connect failed|connection ended|refus|not-authorized|dialback' | head -3)"
  [ -z "$l" ] || printf '%s\n' "$l" | sed 's/^/[parley log] /' >> "$LOG"
}

sc_direct_tls_both_ways() {
  peer_start "$SERVER" directtls || { fail "$SERVER did not start"; return 1; }
  parley_up next_hop="$XMPP_IP:5270" direct_tls=true || { fail "parley did not start"; return 1; }
  both_ways
  if [ "$SERVER" = prosody ]; then
    peer_saw "s2s_pin: xmpps-server for sip.test -> $GW_XMPP_IP:5270" "direct TLS towards parley's 5270"
  else
    # ejabberd dials direct TLS only for _xmpps-server SRV records (no DNS here): its own
    # direction stays STARTTLS; parley -> ejabberd:5270 is direct TLS by configuration.
    echo "[note] ejabberd -> parley used STARTTLS: ejabberd dials direct TLS only for _xmpps-server SRV records" >> "$LOG"
  fi
}

sc_restart_within_deadline() {
  peer_start "$SERVER" offline || { fail "$SERVER did not start"; return 1; }
  parley_up delivery_ms=20000 || { fail "parley did not start"; return 1; }
  deliver before sip alice@sip.test juliet@xmpp.test "Before the restart $(nonce)" || return 1
  log "  stopping $SERVER"
  local t0 body out="$SC_DIR/outage.send.out"
  peer_stop || { fail "$SERVER did not stop"; return 1; }
  body="Sent while $SERVER was down $(nonce)"
  t0=$(date +%s)
  BOUND=40 sip_direct alice --send "sip:juliet@xmpp.test" --body "$body" --timeout 30 > "$out" 2>&1 &
  local send_pid=$!
  sleep 2
  log "  restarting $SERVER"
  peer_start "$SERVER" offline || { fail "$SERVER did not restart"; return 1; }
  echo "[harness] $SERVER back after $(( $(date +%s) - t0 ))s" >> "$LOG"
  # The message reaches juliet live or from offline storage, whichever comes first.
  start_receiver after xmpp juliet@xmpp.test "$body" alice@sip.test "$RECV_TIMEOUT" || return 1
  wait_pid "$RECV_PID" $((RECV_TIMEOUT + 12)) || true
  wait_pid "$send_pid" 35 || true
  echo "[harness] SIP final response after $(( $(date +%s) - t0 ))s" >> "$LOG"
  show "outage send alice@sip.test (direct)" "$out"; show "after recv juliet@xmpp.test" "$RECV_OUT"
  check_sent sip alice@sip.test "$out" 2xx
  check_received xmpp alice@sip.test juliet@xmpp.test "$body" "$RECV_OUT"
  quote_parley 'outbound s2s connect failed' "failed reconnection attempt during the outage"
}

sc_down_past_deadline() {
  local deadline_ms=6000
  peer_start "$SERVER" offline || { fail "$SERVER did not start"; return 1; }
  parley_up delivery_ms=$deadline_ms || { fail "parley did not start"; return 1; }
  deliver before sip alice@sip.test juliet@xmpp.test "Before the outage $(nonce)" || return 1
  peer_stop || { fail "$SERVER did not stop"; return 1; }
  local t0 st out="$SC_DIR/outage.send.out"
  t0=$(date +%s)
  BOUND=40 sip_direct alice --send "sip:juliet@xmpp.test" --body "Nobody will take this $(nonce)" \
    --expect-error --timeout 30 > "$out" 2>&1
  show "outage send alice@sip.test (direct)" "$out"
  echo "[harness] final response after $(( $(date +%s) - t0 ))s (delivery_timeout_ms = $deadline_ms)" >> "$LOG"
  check_sent sip alice@sip.test "$out" error
  st="$(sed -n 's/^SENT .*status=\([0-9]*\).*/\1/p' "$out" | head -1)"
  if [ -n "$st" ] && [ $(( $(date +%s) - t0 )) -gt $(( deadline_ms / 1000 + 8 )) ]; then
    fail "the error came $(( $(date +%s) - t0 ))s after the request, deadline ${deadline_ms} ms"
  fi
  quote_parley 'outbound s2s connect failed' "failed connection attempt"
}

sc_untrusted_cert_refused() {
  # xmpp.test presents a certificate from another CA, in both directions.
  peer_start "$SERVER" untrusted || { fail "$SERVER did not start"; return 1; }
  # A short deadline so that parley's answer comes before Kamailio's 5 s timer.
  parley_up delivery_ms=3000 || { fail "parley did not start"; return 1; }
  refused s2x sip alice@sip.test juliet@xmpp.test
  refused x2s xmpp juliet@xmpp.test bob@sip.test
  quote_parley 's2s_in.*(certificate|UnknownIssuer)' "line about the untrusted certificate of an inbound stream"
  quote_parley 's2s_out.*(certificate|UnknownIssuer)' "line about the untrusted certificate of an outbound stream"
  [ -z "$(parley_lines 'inbound s2s stream authenticated')" ] || fail "parley authenticated an inbound stream from $SERVER"
}

sc_unauthenticated_domain_refused() {
  # The server also hosts other.test, which parley knows as an XMPP domain, but has no
  # certificate for it: it presents xmpp.test's on the other.test stream.
  peer_start "$SERVER" otherdomain || { fail "$SERVER did not start"; return 1; }
  parley_up other=1 || { fail "parley did not start"; return 1; }
  NO_VERIFY=1 refused o2s xmpp mallory@other.test bob@sip.test
  quote_parley 's2s_in.*(other\.test|authentication failed|does not name|not-authorized|refus|invalid-from|policy-violation)' \
    "refusal of the stream for other.test"
  [ -z "$(parley_lines 'peer.domain=other\.test.*authenticated')" ] || fail "parley authenticated other.test"
}

sc_spoofed_from_refused() {
  # A scripted initiator authenticates as xmpp.test (SASL EXTERNAL with xmpp.test's valid
  # certificate) and sends as domains it did not authenticate for.
  parley_up other=1 || { fail "parley did not start"; return 1; }
  local body claimed out
  for claimed in evil.test other.test; do
    body="spoofed as $claimed $(nonce)"
    out="$SC_DIR/raw-$claimed.out"
    start_receiver "bob-$claimed" sip bob@sip.test "$body" "mallory@$claimed" "$QUIET_TIMEOUT" || return 1
    timeout 20 "$VENV/bin/python" "$INTEROP/clients/s2s_raw.py" --server "$GW_XMPP_IP" --from xmpp.test \
      --to sip.test --ca "$CERTS/ca.crt" --cert "$CERTS/xmpp.test.crt" --key "$CERTS/xmpp.test.key" \
      --stanza "<message from='mallory@$claimed/r' to='bob@sip.test' type='chat' id='spoof1'><body>$body</body></message>" \
      --timeout 8 > "$out" 2>&1
    wait_pid "$RECV_PID" $((QUIET_TIMEOUT + 12)) || true
    show "raw from=$claimed" "$out"; show "bob recv" "$RECV_OUT"
    grep -q '^AUTHENTICATED' "$out" || { fail "the raw initiator could not authenticate as xmpp.test: $(grep -m1 '^FAIL' "$out")"; continue; }
    grep -q '^STREAM-ERROR condition=invalid-from' "$out" \
      || fail "claiming $claimed: no invalid-from stream error ($(grep -m1 -E '^(STREAM-ERROR|CLOSED)' "$out"))"
    if grep -qF -- "body=$body" "$RECV_OUT" 2>/dev/null; then fail "bob received the message claimed from $claimed"; fi
  done
  quote_parley 'did not authenticate for' "refusal of the spoofed domain"
}

# XEP-0199: parley pings its idle outbound stream every second; the server answers over its own
# stream to parley, so the stream stays up (no half-open verdict, no second negotiation) and
# carries the next message.
sc_idle_stream_pinged() {
  peer_start "$SERVER" ext || { fail "$SERVER did not start"; return 1; }
  parley_up ping_ms=1000 || { fail "parley did not start"; return 1; }
  deliver s2x-1 sip alice@sip.test juliet@xmpp.test "Before the pings <$SC_NAME> $(nonce)"
  sleep 5
  deliver s2x-2 sip alice@sip.test juliet@xmpp.test "After the pings <$SC_NAME> $(nonce)"
  local pinged answered
  pinged="$(strip_ansi < "$PARLEY_LOG" | grep -c 'idle outbound stream pinged')"
  answered="$(strip_ansi < "$PARLEY_LOG" | grep -c 'ping answered')"
  echo "[parley log] pings sent: $pinged, answered: $answered" >> "$LOG"
  [ "$pinged" -ge 3 ] || fail "parley sent $pinged pings on the idle stream (wanted >= 3)"
  [ "$answered" -ge 3 ] || fail "$SERVER answered $answered of parley's pings (wanted >= 3)"
  [ -z "$(parley_lines 'half-open')" ] || fail "parley declared the stream half-open: $(parley_lines 'half-open')"
  local streams; streams="$(parley_lines 'outbound s2s stream authenticated' | wc -l)"
  [ "$streams" = 1 ] || fail "parley negotiated $streams outbound streams (wanted 1: the pinged one)"
}

# ---- driver --------------------------------------------------------------------------------
run_scenario() { # run_scenario SERVER/NAME
  SC_NAME="$1"; SERVER="${1%%/*}"; local name="${1#*/}"
  LOG="$RUN/$SERVER-$name.log"; SC_DIR="$RUN/$SERVER-$name"; REASON=""; PEER_LOG_FROM=""
  PARLEY_LOG="$SC_DIR/parley.log"
  mkdir -p "$SC_DIR"; : > "$LOG"
  log "scenario $SC_NAME"
  "sc_${name//-/_}" || true
  if [ -n "$REASON" ] && [ -n "$(pid_of parley)" ] && ! alive parley; then
    REASON="$REASON; parley has exited (see $PARLEY_LOG)"
  fi
  parley_down
  peer_stop > /dev/null 2>&1; PEER=""
  rm -f "$RUN/pids.tmp"; grep -vE ' (parley|prosody|ejabberd)$' "$RUN/pids" > "$RUN/pids.tmp" 2>/dev/null; mv -f "$RUN/pids.tmp" "$RUN/pids"
  if [ -z "$REASON" ]; then
    report "$SC_NAME" OK "$LOG"
  else
    report "$SC_NAME" "$REASON" "$LOG"
    {
      echo "--- $SC_NAME: $REASON"; sed 's/^/    /' "$LOG" | head -30
      echo "    --- last lines of $PARLEY_LOG:"
      strip_ansi < "$PARLEY_LOG" 2>/dev/null | grep -vE ' (TRACE|DEBUG) ' | tail -n 12 | sed 's/^/    /'
    } >&2
  fi
}

for s in "${SELECTED[@]}"; do run_scenario "$s"; done
stop_all
summary

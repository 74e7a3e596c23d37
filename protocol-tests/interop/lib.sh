# shellcheck shell=bash
# Helpers for the interop suite. Source it from run.sh.
# Everything targets loopback inside a private network namespace, and every wait is bounded.

INTEROP="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$INTEROP/../.." && pwd)"
# Generated files (run folder, logs, certificates) and the Python venv live OUTSIDE the repo.
INTEROP_HOME="${PARLEY_INTEROP_HOME:-${TMPDIR:-/tmp}/parley-interop}"
RUN="${PARLEY_INTEROP_RUN:-$INTEROP_HOME/run}"
VENV="${PARLEY_INTEROP_VENV:-$INTEROP_HOME/venv}"
CERTS="$RUN/certs"
# Python reads and prints UTF-8 whatever the locale (bodies are compared byte for byte).
export PYTHONUTF8=1 PYTHONIOENCODING=utf-8

# log MESSAGE...: to $RUN/harness.log, and to stderr with VERBOSE=1.
log() {
  local line
  line="$(date +%H:%M:%S) $*"
  [ -d "$RUN" ] && printf '%s\n' "$line" >> "$RUN/harness.log"
  if [ "${VERBOSE:-0}" = 1 ]; then printf '%s\n' "$line" >&2; fi
  return 0
}

# Re-run the calling script inside new network + mount + PID namespaces:
#  - its own loopback (all of 127.0.0.0/8 is free, no packet can leave: there is no route but lo);
#  - a private /etc/hosts and /etc/resolv.conf (bind mounts; the real files are untouched);
#  - when the script ends, the kernel kills every process still in the PID namespace.
# usage: ns_reexec SCRIPT ARGS...
ns_reexec() {
  local script="$1"; shift
  export PARLEY_INTEROP_IN_NS=1
  exec unshare --net --mount --pid --fork --kill-child --mount-proc -- bash "$script" "$@"
}

# Inside the namespace: bring lo up and install the private hosts/resolv.conf.
# args: lines for /etc/hosts, e.g. "127.0.0.2 xmpp.test"
ns_setup() {
  ip link set lo up || return 1
  { echo "127.0.0.1 localhost"; local l; for l in "$@"; do echo "$l"; done; } > "$RUN/hosts"
  # A nameserver on loopback where nothing listens: every DNS query fails at once, locally.
  echo "nameserver 127.0.0.1" > "$RUN/resolv.conf"
  mount --make-rprivate / 2>/dev/null || true
  mount --bind "$RUN/hosts" /etc/hosts || return 1
  mount --bind "$RUN/resolv.conf" /etc/resolv.conf || return 1
}

# render SRC DST KEY=VALUE...: replace @KEY@ placeholders (values must not contain '#').
render() {
  local src="$1" dst="$2"; shift 2
  local expr=() kv
  for kv in "$@"; do expr+=(-e "s#@${kv%%=*}@#${kv#*=}#g"); done
  sed "${expr[@]}" "$src" > "$dst"
}

# start_bg NAME LOGFILE CMD...: start a daemon in the background, remember its PID in $RUN/pids.
start_bg() {
  local name="$1" out="$2"; shift 2
  "$@" > "$out" 2>&1 < /dev/null &
  local pid=$!
  echo "$pid $name" >> "$RUN/pids"
  log "started $name pid=$pid: $*"
}

# pid_of NAME: PID recorded by start_bg (empty if none).
pid_of() { [ -f "$RUN/pids" ] && awk -v n="$1" '$2 == n { p = $1 } END { if (p) print p }' "$RUN/pids"; }

# alive NAME: is the process started under NAME still running?
alive() { local p; p="$(pid_of "$1")"; [ -n "$p" ] && kill -0 "$p" 2>/dev/null; }

# Stop everything started with start_bg, newest first, by PID only. Bounded: TERM, 5 s, KILL.
stop_all() {
  [ -f "$RUN/pids" ] || return 0
  local pid name i
  while read -r pid name; do
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null
      for i in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      if kill -0 "$pid" 2>/dev/null; then log "killing $name pid=$pid"; kill -KILL "$pid" 2>/dev/null; fi
      log "stopped $name pid=$pid"
    fi
  done < <(tac "$RUN/pids")
  rm -f "$RUN/pids"
}

# wait_tcp HOST PORT SECONDS [NAME]: until something accepts on HOST:PORT.
# With NAME, give up at once if that process has exited. Returns 1 on timeout.
wait_tcp() {
  local h="$1" p="$2" t="$3" name="${4:-}" i
  for i in $(seq 1 $((t * 10))); do
    if (exec 3<>"/dev/tcp/$h/$p") 2>/dev/null; then return 0; fi
    if [ -n "$name" ] && ! alive "$name"; then log "$name exited while waiting for $h:$p"; return 1; fi
    sleep 0.1
  done
  log "nothing listening on $h:$p after ${t}s"
  return 1
}

# wait_udp HOST PORT SECONDS: until a UDP socket is bound on HOST:PORT.
wait_udp() {
  local h="$1" p="$2" t="$3" i
  for i in $(seq 1 $((t * 10))); do
    ss -lun 2>/dev/null | grep -q " $h:$p " && return 0
    sleep 0.1
  done
  log "no UDP socket on $h:$p after ${t}s"
  return 1
}

# wait_grep FILE REGEX SECONDS [PID]: until FILE has a line matching REGEX.
# With PID, give up at once if that process has exited (after a last look).
wait_grep() {
  local f="$1" re="$2" t="$3" pid="${4:-}" i
  for i in $(seq 1 $((t * 10))); do
    grep -qE "$re" "$f" 2>/dev/null && return 0
    if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then grep -qE "$re" "$f" 2>/dev/null; return; fi
    sleep 0.1
  done
  return 1
}

# wait_pid PID SECONDS: wait for a child to finish; its status, or 124 (and TERM it) on timeout.
wait_pid() {
  local pid="$1" t="$2" i
  for i in $(seq 1 $((t * 10))); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null; sleep 0.5; kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    return 124
  fi
  wait "$pid"
}

# ---- peers -------------------------------------------------------------------------------

# prosody_start DOMAIN IP USER...: render the Prosody config into $RUN/prosody, register USERs
# (password "pass"), start "prosody -F" and wait for c2s and s2s.
prosody_start() {
  local dom="$1" ip="$2"; shift 2
  local d="$RUN/prosody"; mkdir -p "$d/data"
  render "$INTEROP/prosody/prosody.cfg.lua.in" "$d/prosody.cfg.lua" \
    RUN="$d" CERTS="$CERTS" DOMAIN="$dom" IP="$ip"
  local u
  for u in "$@"; do
    prosodyctl --config "$d/prosody.cfg.lua" register "$u" "$dom" pass >> "$d/prosodyctl.out" 2>&1 \
      || { log "prosodyctl register $u@$dom failed"; return 1; }
  done
  start_bg prosody "$d/prosody.out" prosody -F --config "$d/prosody.cfg.lua"
  wait_tcp "$ip" 5222 20 prosody && wait_tcp "$ip" 5269 20 prosody
}

# kamailio_start KAM_IP GW_IP: render tls.cfg, start Kamailio in the foreground (-DD -E),
# wait for udp/tcp 5060 and tls 5061.
kamailio_start() {
  local kip="$1" gip="$2"
  local d="$RUN/kamailio"; mkdir -p "$d"
  render "$INTEROP/kamailio/tls.cfg.in" "$d/tls.cfg" CERTS="$CERTS" GW_IP="$gip"
  start_bg kamailio "$d/kamailio.log" kamailio -f "$INTEROP/kamailio/kamailio.cfg" \
    -L "${KAMAILIO_MODULES:-/usr/lib/x86_64-linux-gnu/kamailio/modules}" -DD -E -Y "$d" -P "$d/kamailio.pid" \
    -A "KAM_IP=\"$kip\"" -A "GW_URI=\"sip:$gip:5061;transport=tls\"" -A "TLS_CFG=\"$d/tls.cfg\""
  wait_tcp "$kip" 5061 20 kamailio && wait_tcp "$kip" 5060 20 kamailio && wait_udp "$kip" 5060 10
}

# ---- clients -----------------------------------------------------------------------------

# Clients run under "timeout": a hard bound (BOUND seconds, default 60) beyond their own --timeout.
# xmpp_client ARGS...: the slixmpp client, verifying the server with the test CA.
xmpp_client() {
  timeout -k 5 "${BOUND:-60}" "$VENV/bin/python" "$INTEROP/clients/xmpp_client.py" --ca "$CERTS/ca.crt" "$@"
}

# sip_ua USER LOCAL_IP ARGS...: the pjsua2 UA, registered over TLS at Kamailio as USER@sip.test.
sip_ua() {
  local user="$1" lip="$2"; shift 2
  timeout -k 5 "${BOUND:-60}" "$VENV/bin/python" "$INTEROP/clients/sip_ua.py" --id "sip:$user@sip.test" \
    --registrar "sip:sip.test;transport=tls" --proxy "sip:$KAM_IP:5061;transport=tls;lr" \
    --ca "$CERTS/ca.crt" --cert "$CERTS/sip.test.crt" --key "$CERTS/sip.test.key" \
    --local-ip "$lip" "$@"
}

# xmpp_client_script SCRIPT ARGS...: another slixmpp client of clients/, same CA and bound.
xmpp_client_script() {
  local script="$1"; shift
  timeout -k 5 "${BOUND:-60}" "$VENV/bin/python" "$INTEROP/clients/$script" --ca "$CERTS/ca.crt" "$@"
}

#!/usr/bin/env bash
# parley against Kamailio's SIP -> XMPP gateway (xmpp module, XEP-0114 component mode) in one run,
# with the same generator (parley-load) and the same kind of XMPP sink. See README.md beside this.
#
# Non-interactive and time-bounded (COMPARE_BUDGET seconds in all, default 570). Needs root for
# apt-get (kamailio-xmpp-modules, Debian's kamailio source) and runs everything on 127.0.0.1.
#
# Environment (all optional):
#   PARLEY_COMPARE_HOME        work folder outside the repository       (/tmp/parley-compare)
#   COMPARE_BASE_PORT          first of 8 loopback ports                 (17061)
#   COMPARE_DURATION           seconds of sending per step               (5)
#   COMPARE_PARLEY_STEP        parley's rates START:STOP:FACTOR          (4000:512000:2)
#   COMPARE_KAMAILIO_STEP      Kamailio's rates                          (1000:128000:2)
#   COMPARE_CONNS / COMPARE_WINDOW   SIP connections and window each     (16 / 4096)
#     parley answers 202 once the sink answers the ping written after the stanza: in flight
#     = rate x that round trip (a few ms), far below 16 x 4096
#   COMPARE_KAMAILIO_CHILDREN  Kamailio's TCP worker processes           (4)
#   COMPARE_MAX_P99_MS         p99 above which a step is not sustained  (100)
#   COMPARE_IDLE_CONNS         idle TLS connections held open to parley  (10000)
#   COMPARE_NO_BUILD=1         use the existing binaries
#   COMPARE_BIN_DIR            where they are                            (target/release)
#   COMPARE_BUDGET             seconds for the whole run                 (570)
set -uo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
H=${PARLEY_COMPARE_HOME:-/tmp/parley-compare}
BASE=${COMPARE_BASE_PORT:-17061}
DUR=${COMPARE_DURATION:-5}
PARLEY_STEP=${COMPARE_PARLEY_STEP:-4000:512000:2}
KAM_STEP=${COMPARE_KAMAILIO_STEP:-1000:128000:2}
CONNS=${COMPARE_CONNS:-16}
WINDOW=${COMPARE_WINDOW:-4096}
KAM_CHILDREN=${COMPARE_KAMAILIO_CHILDREN:-4}
MAX_P99=${COMPARE_MAX_P99_MS:-100}
IDLE=${COMPARE_IDLE_CONNS:-10000}
BUDGET=${COMPARE_BUDGET:-570}
STOCK_MPATH=/usr/lib/x86_64-linux-gnu/kamailio/modules
BIN=${COMPARE_BIN_DIR:-$REPO/target/release}
LOAD=$BIN/parley-load
PARLEY=$BIN/parley

# Ports: parley SIP TLS, parley XMPP, XMPP sink, SIP sink, parley admin (setup lays these out),
# then Kamailio's SIP (TCP) and the component sink.
KAM_SIP=$((BASE + 5))
KAM_SINK=$((BASE + 6))

deadline=$((SECONDS + BUDGET))
started=()
say() { printf '== %s\n' "$*"; }
left() { echo $((deadline - SECONDS)); }
# Run a command with what is left of the budget (at most $1 seconds).
bounded() {
    local cap=$1 t
    shift
    t=$(left)
    ((t > cap)) && t=$cap
    if ((t < 5)); then
        say "time budget exhausted, skipping: $*"
        return 124
    fi
    timeout --kill-after=5 "$t" "$@"
}
cleanup() {
    local p
    for p in "${started[@]}"; do
        kill "$p" 2>/dev/null
    done
    wait 2>/dev/null
}
trap cleanup EXIT
wait_port() { # host port seconds
    local i
    for ((i = 0; i < $3 * 10; i++)); do
        (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}

mkdir -p "$H"
say "parley vs Kamailio xmpp module, $(date -u +%FT%TZ), $(nproc) cores, budget ${BUDGET}s, work folder $H"
say "steps of ${DUR}s; sustained = no failure, delivered >= 99.9 % of sent, p99 <= ${MAX_P99} ms, sent >= 95 % of offered"

# --- build --------------------------------------------------------------------------------------
if [[ ${COMPARE_NO_BUILD:-0} != 1 ]]; then
    say "building parley and parley-load (release)"
    (cd "$REPO" && bounded 400 nice -n 5 cargo build --release --bins -q) || { say "build failed"; exit 1; }
fi
[[ -x $LOAD && -x $PARLEY ]] || { say "missing $LOAD or $PARLEY"; exit 1; }

# --- parley ---------------------------------------------------------------------------------------
mkdir -p "$H/parley"
"$LOAD" setup --dir "$H/parley" --base-port "$BASE" > "$H/parley/setup.txt" 2>&1 \
    || { say "parley-load setup failed"; cat "$H/parley/setup.txt"; exit 1; }
rm -rf "$H/parley/state"
"$PARLEY" run --config "$H/parley/parley.toml" > "$H/parley/parley.log" 2>&1 &
PARLEY_PID=$!
started+=("$PARLEY_PID")
wait_port 127.0.0.1 "$BASE" 20 || { say "parley did not start"; tail "$H/parley/parley.log"; exit 1; }
COMMON=(--pki "$H/parley" --duration "$DUR" --conns "$CONNS" --window "$WINDOW" --max-p99-ms "$MAX_P99")

# Idle connections first, on the fresh gateway: after the load runs, memory the allocator kept
# from them would make each new connection look almost free.
say "parley: $IDLE idle TLS connections to its SIP listener (memory per connection, before any load)"
bounded 120 "$LOAD" idle-tls --pki "$H/parley" --target "127.0.0.1:$BASE" --conns "$IDLE" --hold 2 \
    | tee "$H/parley-idle-tls.txt"
# The allocator (jemalloc) hands the memory of the closed connections back to the system over
# the next seconds (its decay time is 10 s). A step run meanwhile measures that purge too: in
# alternating runs at 80,000/s, ~8 % more gateway CPU and a worse p99 than after a pause.
say "parley: 10 s for the idle connections' memory to go back to the system"
sleep 10

say "parley (pid $PARLEY_PID, $PARLEY): SIP over TLS -> parley -> XMPP s2s sink (STARTTLS + SASL EXTERNAL)"
bounded 200 "$LOAD" sip-to-xmpp "${COMMON[@]}" --target "127.0.0.1:$BASE" --sink "127.0.0.1:$((BASE + 2))" \
    --step "$PARLEY_STEP" --label parley | tee "$H/parley-sip-to-xmpp.txt"
say "parley: XMPP s2s (STARTTLS + SASL EXTERNAL) -> parley -> SIP sink over TLS"
bounded 150 "$LOAD" xmpp-to-sip "${COMMON[@]}" --conns 2 --target "127.0.0.1:$((BASE + 1))" \
    --sink "127.0.0.1:$((BASE + 3))" --bounce-sink "127.0.0.1:$((BASE + 2))" --step "$PARLEY_STEP" --label parley-x2s | tee "$H/parley-xmpp-to-sip.txt"
kill "$PARLEY_PID" 2>/dev/null
wait "$PARLEY_PID" 2>/dev/null

# --- Kamailio -----------------------------------------------------------------------------------
KVER=$(dpkg-query -W -f '${Version}' kamailio 2>/dev/null)
if [[ -z $KVER ]]; then
    say "kamailio is not installed: no comparison"
    exit 1
fi
if ! dpkg-query -W -f '${Status}' kamailio-xmpp-modules 2>/dev/null | grep -q 'ok installed'; then
    say "installing the stock kamailio-xmpp-modules"
    bounded 120 apt-get install -y -q "kamailio-xmpp-modules=$KVER" > "$H/apt-install.log" 2>&1 \
        || { say "apt-get install kamailio-xmpp-modules failed"; tail -5 "$H/apt-install.log"; exit 1; }
fi
render() { # mpath output
    sed -e "s#@MPATH@#$1#" -e "s/@SIP_PORT@/$KAM_SIP/" -e "s/@SINK_PORT@/$KAM_SINK/" \
        -e "s/@CHILDREN@/$KAM_CHILDREN/" "$REPO/benches/compare/kamailio.cfg.in" > "$2"
}
# Start Kamailio in the foreground (-DD) logging to stderr (-E); its pid in KAM_PID.
start_kamailio() { # cfg log
    kamailio -f "$1" -DD -E -m 256 -Y "$H" > "$2" 2>&1 &
    KAM_PID=$!
    started+=("$KAM_PID")
}
stop_kamailio() {
    kill "$KAM_PID" 2>/dev/null
    wait "$KAM_PID" 2>/dev/null
}
KCOMMON=("${COMMON[@]}" --transport tcp --sink-kind component --component-secret secret
    --target "127.0.0.1:$KAM_SIP" --sink "127.0.0.1:$KAM_SINK" --wait-sink 10)

say "Kamailio $KVER with the stock Debian xmpp module ($STOCK_MPATH/xmpp.so), 100 messages/s for 2 s"
render "$STOCK_MPATH/" "$H/kamailio-stock.cfg"
"$LOAD" sip-to-xmpp "${KCOMMON[@]}" --rate 100 --duration 2 --drain 2 --label kamailio-stock \
    > "$H/kamailio-stock.txt" 2>&1 &
LOAD_PID=$!
started+=("$LOAD_PID")
sleep 0.3
start_kamailio "$H/kamailio-stock.cfg" "$H/kamailio-stock.log"
bounded 25 tail --pid="$LOAD_PID" -f /dev/null
sleep 1
if grep -q 'exited by a signal 11' "$H/kamailio-stock.log"; then
    say "STOCK MODULE CRASHED (kamailio issue #4154): $(grep -m1 'exited by a signal 11' "$H/kamailio-stock.log" | sed 's/^ *//')"
    say "  (xmpp process segfaults on the first XML element from the server: *(atts[i]) reads expat's NULL terminator)"
    STOCK=crashed
else
    say "stock module did not crash; its run:"
    STOCK=ok
fi
sed 's/^/   /' "$H/kamailio-stock.txt"
stop_kamailio

FIXED=$H/modules/xmpp.so
if [[ -f $FIXED ]]; then
    say "reusing $FIXED, rebuilt earlier by this script (delete it to rebuild)"
else
    say "rebuilding only the xmpp module from Debian's kamailio $KVER source, with the one-line fix"
    if [[ ! -d $H/src/kamailio-${KVER%%-*} ]]; then
        if ! grep -rqs '^Types:.*deb-src' /etc/apt/sources.list.d/ /etc/apt/sources.list; then
            sed 's/^Types: deb$/Types: deb-src/' /etc/apt/sources.list.d/debian.sources \
                > /etc/apt/sources.list.d/parley-compare-src.sources
        fi
        mkdir -p "$H/src"
        (bounded 120 apt-get update -q && cd "$H/src" && bounded 120 apt-get source -q "kamailio=$KVER") \
            > "$H/apt-source.log" 2>&1 || { say "apt-get source kamailio=$KVER failed"; tail -5 "$H/apt-source.log"; exit 1; }
    fi
    rm -rf "$H/build"
    cp -a "$H/src/kamailio-${KVER%%-*}" "$H/build"
    for f in xstream.c xode_from.c; do
        sed -i "s/while (\*(atts\[i\]) != '\\\\0')/while (atts[i] != NULL)/" "$H/build/src/modules/xmpp/$f"
        grep -q 'while (atts\[i\] != NULL)' "$H/build/src/modules/xmpp/$f" \
            || { say "the fix did not apply to $f"; exit 1; }
    done
    (cd "$H/build" && bounded 200 nice -n 5 make cfg include_modules=xmpp && bounded 200 nice -n 5 make -C src/modules/xmpp) \
        > "$H/build.log" 2>&1 || { say "module build failed"; tail -20 "$H/build.log"; exit 1; }
    mkdir -p "$H/modules"
    cp "$H/build/src/modules/xmpp/xmpp.so" "$FIXED"
fi
say "THE COMPARISON USES THE FIXED MODULE $FIXED (loaded through mpath before $STOCK_MPATH)"
render "$H/modules/:$STOCK_MPATH/" "$H/kamailio-fixed.cfg"

say "Kamailio $KVER (fixed xmpp module, $KAM_CHILDREN TCP workers): SIP over TCP -> Kamailio -> XMPP component sink (XEP-0114)"
"$LOAD" sip-to-xmpp "${KCOMMON[@]}" --step "$KAM_STEP" --label kamailio > "$H/kamailio-sip-to-xmpp.txt" 2>&1 &
LOAD_PID=$!
started+=("$LOAD_PID")
sleep 0.3
start_kamailio "$H/kamailio-fixed.cfg" "$H/kamailio-fixed.log"
bounded 200 tail --pid="$LOAD_PID" -f /dev/null
cat "$H/kamailio-sip-to-xmpp.txt"
if grep -q 'exited by a signal' "$H/kamailio-fixed.log"; then
    say "the fixed module crashed too: $(grep -m1 'exited by a signal' "$H/kamailio-fixed.log")"
fi
stop_kamailio

# --- summary ------------------------------------------------------------------------------------
best() { grep -o 'highest sustained rate: [0-9]*' "$1" 2>/dev/null | grep -o '[0-9]*$'; }
P=$(best "$H/parley-sip-to-xmpp.txt")
PX=$(best "$H/parley-xmpp-to-sip.txt")
K=$(best "$H/kamailio-sip-to-xmpp.txt")
say "summary (highest sustained rate; steps as configured above; full tables above and in $H/*.txt)"
printf '   %-44s %s\n' "parley SIP->XMPP (SIP over TLS, s2s sink)" "${P:-none} msg/s"
printf '   %-44s %s\n' "parley XMPP->SIP (s2s source, SIP/TLS sink)" "${PX:-none} msg/s"
printf '   %-44s %s\n' "Kamailio SIP->XMPP (SIP over TCP, component)" "${K:-none} msg/s (fixed module; stock: $STOCK)"
printf '   %-44s %s\n' "parley RSS per idle TLS connection" "$(grep -o 'RSS per connection *[0-9.]* KiB' "$H/parley-idle-tls.txt" | grep -o '[0-9.]* KiB')"
if [[ -n $P && -n $K && $K -gt 0 ]]; then
    printf '   %-44s %s\n' "parley / Kamailio" "$(awk -v p="$P" -v k="$K" 'BEGIN{printf "%.1fx", p/k}')"
fi
say "done in ${SECONDS}s"

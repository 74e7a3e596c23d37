#!/usr/bin/env bash
# Fault injection against the parley binary, in a private network namespace (issue 12):
# peers killed mid-stream, peers that accept TCP and never answer, a peer that resets after
# half a stanza, and a loopback that drops 20% of packets (netem, or nftables). Every message sent is
# followed to its end: delivered (the far stand-in logged it), bounced (the sender got an
# error), spooled (parley's spool gauge), or lost. Prints the fault table; exits 1 when any
# message is lost.
#
# usage: protocol-tests/faults/faults.sh [SCENARIO...]
#   scenarios: xmpp-killed xmpp-blackhole sip-killed sip-blackhole half-stanza netem-loss
#   env: PARLEY=path/to/parley (default target/debug/parley), COUNT (messages per direction)
set -u
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
PARLEY="${PARLEY:-$ROOT/target/debug/parley}"
COUNT="${COUNT:-60}"

if [ -z "${PARLEY_FAULTS_IN_NS:-}" ]; then
  export PARLEY_FAULTS_IN_NS=1
  exec unshare --net --mount --pid --fork --kill-child --mount-proc -- bash "$0" "$@"
fi

ip link set lo up
command -v tc >/dev/null || { echo "tc missing: apt-get install iproute2" >&2; exit 2; }
# netem needs the sch_netem kernel module; where the kernel has none (no modules), the loss
# scenario drops 20% of loopback packets with an nftables rule (numgen random) instead, so the
# kernel's TCP retransmits as on a lossy link; without nft either, it falls back to
# loss-emulating relays (peers.py lossy-proxy). Its row says which was used.
RUN="$(mktemp -d /tmp/parley-faults.XXXXXX)"
PEERS=(python3 "$HERE/peers.py")
SCENARIOS=("$@")
[ ${#SCENARIOS[@]} -eq 0 ] && SCENARIOS=(xmpp-killed xmpp-blackhole sip-killed sip-blackhole half-stanza netem-loss)

cat > "$RUN/parley.toml" <<TOML
state_dir = "$RUN/state"
[log]
level = "info"
[metrics]
listen = "127.0.0.1:9100"
[sip]
listen_tls = ["127.0.0.1:5061"]
bounce_window_ms = 300
transaction_timeout_ms = 8000
[xmpp]
listen_tls = ["127.0.0.1:5270"]
connect_timeout_ms = 2000
delivery_timeout_ms = 5000
[policy.consent]
enable = false
[policy.limits]
domain_rate = 10000.0
domain_burst = 100000
sender_rate = 10000.0
sender_burst = 100000
[[domain]]
name = "sip.test"
side = "sip"
next_hop = "127.0.0.1:15061"
[[domain]]
name = "xmpp.test"
side = "xmpp"
next_hop = "127.0.0.1:15270"
direct_tls = true
TOML

"$PARLEY" run --config "$RUN/parley.toml" > "$RUN/parley.log" 2>&1 &
PARLEY_PID=$!
for _ in $(seq 100); do grep -q "parley ready" "$RUN/parley.log" && break; sleep 0.1; done
grep -q "parley ready" "$RUN/parley.log" || { cat "$RUN/parley.log"; exit 2; }
CERTS="$RUN/state/tls"

metric() { # metric NAME: the sum of its series
  python3 - "$1" <<'PY'
import sys, urllib.request
name = sys.argv[1]
text = urllib.request.urlopen("http://127.0.0.1:9100/metrics", timeout=5).read().decode()
print(int(sum(float(l.rsplit(" ", 1)[1]) for l in text.splitlines()
              if l.split("{")[0].split(" ")[0] == name)))
PY
}

BG=()
bg() { "${PEERS[@]}" "$@" --certs "$CERTS" & BG+=($!); }
stop_bg() { local p; for p in "${BG[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; BG=(); }

sip_proxy()  { bg sip-proxy --port 15061 --domain sip.test --log "$1" "${@:2}"; }
xmpp_server() { bg xmpp-server --port 15270 --domain xmpp.test --log "$1" "${@:2}"; }
sip_ua() {   # sip_ua LOG TAG ARGS...: SIP → XMPP traffic
  "${PEERS[@]}" sip-ua --port 5061 --certs "$CERTS" --from "u-$2@sip.test" --to "juliet@xmpp.test" \
    --server-name xmpp.test --tag "$2" --count "$COUNT" --log "$1" "${@:3}"
}
xmpp_sender() {  # xmpp_sender LOG TAG ARGS...: XMPP → SIP traffic
  "${PEERS[@]}" xmpp-sender --port 5270 --certs "$CERTS" --from "u-$2@xmpp.test" --to "bob@sip.test" \
    --server-name sip.test --tag "$2" --count "$COUNT" --log "$1" "${@:3}"
}

# count TAG SENDER_LOG FAR_LOG BOUNCE_LOG: one table row; sets LOST.
ROWS=()
FAILED=0
count() {
  local name="$1" tag="$2" sent_log="$3" far_log="$4" bounce_log="$5" secs="$6"
  local row
  # Messages parley took into its spool during this scenario are kept, not lost: they are
  # retried until delivered or bounced at the spool deadline.
  local spooled=$(( $(metric parley_spool_messages) - SPOOL_BEFORE ))
  row=$(python3 - "$tag" "$sent_log" "$far_log" "$bounce_log" "$spooled" <<'PY'
import sys
tag, sent_log, far_log, bounce_log, spooled = sys.argv[1:6]
def lines(p):
    try:
        return [l.split() for l in open(p)]
    except FileNotFoundError:
        return []
pre = f"tok-{tag}-"
sent = {l[1] for l in lines(sent_log) if l[0] == "sent" and l[1].startswith(pre)}
got = {l[1] for l in lines(far_log) if l[0] == "got" and l[1].startswith(pre)}
bounced = {l[1] for l in lines(sent_log) if l[0] == "status" and l[1].startswith(pre) and int(l[2]) >= 300}
bounced |= {l[1] for l in lines(bounce_log) if l[0] == "bounce" and l[1].startswith(pre)}
noanswer = {l[1] for l in lines(sent_log) if l[0] == "status" and l[1].startswith(pre) and int(l[2]) == 0}
errors = sorted({l[2] for l in lines(sent_log) if l[0] == "status" and l[1].startswith(pre) and int(l[2]) >= 300}
                | {l[2] for l in lines(bounce_log) if l[0] == "bounce" and l[1].startswith(pre)})
both = got & bounced
spooled = max(0, int(float(spooled)))
unaccounted = sent - got - bounced
lost = max(0, len(unaccounted) - spooled)
print(len(sent), len(got - bounced), len(bounced - got), spooled, len(both), lost, len(noanswer), ",".join(errors) or "-")
PY
)
  read -r s d b sp both lost noans errs <<<"$row"
  ROWS+=("$(printf '%-20s %5s %9s %7s %7s %12s %5s %9s %6s  %s' "$name" "$s" "$d" "$b" "$sp" "$both" "$lost" "$noans" "$secs" "$errs")")
  # deliv+bounce: a peer read the message and died before answering; the sender was told
  # it failed (at-most-once is not promised by SIP or XMPP without acknowledgements).
  if [ "$lost" != 0 ]; then FAILED=1; fi
}

for sc in "${SCENARIOS[@]}"; do
  L="$RUN/$sc"; mkdir -p "$L"; t0=$(date +%s)
  SPOOL_BEFORE=$(metric parley_spool_messages)
  case "$sc" in
    xmpp-killed)   # the XMPP peer resets the stream after 20 stanzas and is down for 2 s
      xmpp_server "$L/far.log" --kill-after 20 --down 2; sleep 0.5
      sip_ua "$L/near.log" xk --window 4 --gap 0.05
      sleep 1; stop_bg; count "$sc" xk "$L/near.log" "$L/far.log" /dev/null $(( $(date +%s) - t0 )) ;;
    xmpp-blackhole) # the XMPP peer accepts TCP and never says a word
      xmpp_server "$L/far.log" --blackhole; sleep 0.5
      COUNT=20 sip_ua "$L/near.log" xb --window 20
      stop_bg; count "$sc" xb "$L/near.log" "$L/far.log" /dev/null $(( $(date +%s) - t0 )) ;;
    sip-killed)    # the SIP proxy resets after 20 requests and is down for 2 s
      sip_proxy "$L/far.log" --kill-after 20 --down 2; xmpp_server "$L/bounce.log"; sleep 0.5
      xmpp_sender "$L/near.log" sk --gap 0.05; sleep 12
      stop_bg; count "$sc" sk "$L/near.log" "$L/far.log" "$L/bounce.log" $(( $(date +%s) - t0 )) ;;
    sip-blackhole) # the SIP proxy accepts TCP and never answers (not even TLS)
      sip_proxy "$L/far.log" --blackhole; xmpp_server "$L/bounce.log"; sleep 0.5
      COUNT=20 xmpp_sender "$L/near.log" sb; sleep 14
      stop_bg; count "$sc" sb "$L/near.log" "$L/far.log" "$L/bounce.log" $(( $(date +%s) - t0 )) ;;
    half-stanza)   # an XMPP peer sends its messages, then half a stanza, then a TCP reset
      sip_proxy "$L/far.log"; xmpp_server "$L/bounce.log"; sleep 0.5
      xmpp_sender "$L/near.log" hs --reset-half; sleep 3
      stop_bg; count "$sc" hs "$L/near.log" "$L/far.log" "$L/bounce.log" $(( $(date +%s) - t0 )) ;;
    netem-loss)    # 20% of packets dropped, traffic both ways at once
      if tc qdisc add dev lo root netem loss 20% 2>/dev/null; then
        LOSS="netem"; SIP_HOP=15061; XMPP_HOP=15270
      elif command -v nft >/dev/null && nft -f - 2>/dev/null <<'NFT'
table inet parley_loss {
  chain out {
    type filter hook output priority 0; policy accept;
    oifname "lo" numgen random mod 5 0 counter drop
  }
}
NFT
      then
        LOSS="nft"; SIP_HOP=15061; XMPP_HOP=15270
      else
        # No netem in this kernel: emulate the loss in relays in front of both stand-ins.
        LOSS="relay"; SIP_HOP=25061; XMPP_HOP=25270
        "${PEERS[@]}" lossy-proxy --port 15061 --to-port 25061 --certs . --log /dev/null --seed 1 & BG+=($!)
        "${PEERS[@]}" lossy-proxy --port 15270 --to-port 25270 --certs . --log /dev/null --seed 2 & BG+=($!)
      fi
      bg sip-proxy --port "$SIP_HOP" --domain sip.test --log "$L/far-sip.log"
      bg xmpp-server --port "$XMPP_HOP" --domain xmpp.test --log "$L/far-xmpp.log"; sleep 0.5
      sip_ua "$L/near-sip.log" nl --window 4 --timeout 60 &
      UA=$!
      xmpp_sender "$L/near-xmpp.log" nx --gap 0.05; sleep 15; wait "$UA"
      [ "$LOSS" = netem ] && tc qdisc del dev lo root
      if [ "$LOSS" = nft ]; then
        DROPPED=$(nft list table inet parley_loss | awk '/counter/ {for (i = 1; i < NF; i++) if ($i == "packets") print $(i + 1)}')
        nft delete table inet parley_loss
        echo "nft dropped $DROPPED loopback packets" >&2
      fi
      stop_bg
      count "loss($LOSS) s→x" nl "$L/near-sip.log" "$L/far-xmpp.log" /dev/null $(( $(date +%s) - t0 ))
      count "loss($LOSS) x→s" nx "$L/near-xmpp.log" "$L/far-sip.log" "$L/far-xmpp.log" $(( $(date +%s) - t0 )) ;;
    *) echo "unknown scenario $sc" >&2; exit 2 ;;
  esac
done

kill -0 "$PARLEY_PID" 2>/dev/null && ALIVE=yes || ALIVE=NO
kill "$PARLEY_PID"; wait "$PARLEY_PID" 2>/dev/null
echo
echo "fault table (sent = delivered + bounced + deliv+bounce + spooled + lost; spooled = what the scenario added to parley_spool_messages; parley alive at the end: $ALIVE)"
printf '%-20s %5s %9s %7s %7s %12s %5s %9s %6s  %s\n' scenario sent delivered bounced spooled "deliv+bounce" lost no-answer secs errors
printf '%s\n' "${ROWS[@]}"
echo "logs: $RUN"
[ "$ALIVE" = yes ] || FAILED=1
exit "$FAILED"

#!/usr/bin/env bash
# Where parley's heap grows under the soak's traffic (issue 12): runs the soak's mixed
# traffic (no restarts) through parley under heaptrack twice, SHORT and LONG seconds, kills
# parley with SIGKILL at the end of each so every live allocation shows as "leaked", and
# prints the difference by the innermost parley frame and the library it went through.
# What grows with time is there; a leak shows as a site that keeps growing, a bounded cache
# as one that stops at its bound.
#
# usage: protocol-tests/soak/heapdiff.sh [SHORT_SECONDS] [LONG_SECONDS]   (default 60 240)
#   env: PARLEY=path/to/parley (default target/debug/parley); needs heaptrack (apt-get install heaptrack)
set -u
SHORT="${1:-60}"
LONG="${2:-240}"
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
PARLEY="${PARLEY:-$ROOT/target/debug/parley}"
PEERS=(python3 "$ROOT/protocol-tests/faults/peers.py")
command -v heaptrack >/dev/null || { echo "heaptrack is not installed" >&2; exit 2; }

if [ -z "${PARLEY_HEAPDIFF_IN_NS:-}" ]; then
  export PARLEY_HEAPDIFF_IN_NS=1
  # A network namespace of its own, but the PID namespace of the host: heaptrack follows
  # its child only there.
  exec unshare --net -- bash "$0" "$@"
fi
ip link set lo up
OUT="$(mktemp -d /tmp/parley-heapdiff.XXXXXX)"

# The soak's configuration, as it is in soak.sh.
config() {
  sed -n '/^cat > "\$RUN\/parley.toml" <<TOML/,/^TOML/p' "$HERE/soak.sh" | sed '1d;$d' | sed "s#\$RUN#$1#"
}

descendant() { # descendant PID COMM: the first process below PID named COMM
  local child
  for child in $(pgrep -P "$1"); do
    if [ "$(cat "/proc/$child/comm" 2>/dev/null)" = "$2" ]; then echo "$child"; return; fi
    descendant "$child" "$2"
  done
}

run() { # run NAME SECONDS
  local dir="$OUT/$1" t0 round=0 sp xp ua xs pid
  mkdir -p "$dir"
  config "$dir" > "$dir/parley.toml"
  heaptrack -o "$dir/heap" "$PARLEY" run --config "$dir/parley.toml" > "$dir/parley.log" 2>&1 &
  local ht=$!
  for _ in $(seq 300); do [ -d "$dir/state/tls" ] && break; sleep 0.1; done
  sleep 2
  "${PEERS[@]}" sip-proxy --port 15061 --domain sip.test --certs "$dir/state/tls" --log "$dir/far-sip.log" & sp=$!
  "${PEERS[@]}" xmpp-server --port 15270 --domain xmpp.test --certs "$dir/state/tls" --log "$dir/far-xmpp.log" & xp=$!
  sleep 1
  t0=$(date +%s)
  while [ $(( $(date +%s) - t0 )) -lt "$2" ]; do
    round=$(( round + 1 ))
    "${PEERS[@]}" sip-ua --port 5061 --certs "$dir/state/tls" --from "s$round@sip.test" --to "juliet@xmpp.test" \
      --server-name xmpp.test --tag "ss$round" --count 40 --window 4 --gap 0.05 --log "$dir/near-sip.log" & ua=$!
    "${PEERS[@]}" xmpp-sender --port 5270 --certs "$dir/state/tls" --from "x$round@xmpp.test" --to "bob@sip.test" \
      --server-name sip.test --tag "sx$round" --count 40 --gap 0.05 --presence --log "$dir/near-xmpp.log" & xs=$!
    wait "$ua" "$xs"
  done
  sleep 5
  # parley under heaptrack's wrapper: a descendant of it, never another parley on the host.
  pid=$(descendant "$ht" parley)
  kill -KILL "$pid"
  wait "$ht" 2>/dev/null
  kill "$sp" "$xp" 2>/dev/null; wait "$sp" "$xp" 2>/dev/null
  echo "$1: $2 s, $round rounds of 40 messages each way"
}

run short "$SHORT"
run long "$LONG"
heaptrack_print -f "$OUT/long/heap.zst" -d "$OUT/short/heap.zst" --flamegraph-cost-type leaked \
  -F "$OUT/stacks.txt" > /dev/null 2>&1
python3 - "$OUT/stacks.txt" <<'PY'
import collections, re, sys
LIBS = ("rustls", "redb", "metrics", "dashmap", "hickory", "tracing", "moka", "crossbeam", "tokio_rustls")
SYMBOLS = {"$LT$": "<", "$GT$": ">", "$C$": ",", "$u20$": " ", "$u7b$": "{", "$u7d$": "}", "$RF$": "&", "..": "::"}
def name(frame):
    frame = re.sub(r"::h[0-9a-f]{16}", "", frame).lstrip("_")
    for code, text in SYMBOLS.items():
        frame = frame.replace(code, text)
    return frame[:90]
growth = collections.Counter()
for line in open(sys.argv[1]):
    stack, _, cost = line.rstrip().rpartition(" ")
    frames = stack.split(";")
    own = [f for f in frames if "parley" in f and "tokio" not in f]
    lib = [f for f in frames if any(l in f for l in LIBS)]
    growth[(name(own[-1]) if own else "-") + " | " + (name(lib[0]) if lib else "")] += int(cost)
print(f"heap growth from the short run to the long one: {sum(growth.values()) // 1024} KiB")
print("bytes  innermost parley frame | library")
for site, b in growth.most_common(12):
    if b:
        print(f"{b:>7}  {site}")
PY
echo "data: $OUT"

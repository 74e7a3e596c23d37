#!/usr/bin/env bash
# Bounded fuzz run of the SIP codec: ./fuzz/run.sh SECONDS (default 60).
# Seeds the corpus from protocol-tests/sip, runs at low priority, prints the exec count.
# Works without a nightly toolchain through RUSTC_BOOTSTRAP=1.
set -euo pipefail
secs="${1:-60}"
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
corpus="$here/corpus/sip_message"
mkdir -p "$corpus"
cp "$root"/protocol-tests/sip/rfc4475/*.dat "$root"/protocol-tests/sip/bench/*.sip "$root"/protocol-tests/sip/*.sip "$root"/protocol-tests/sip/fuzz/* "$corpus"/ 2>/dev/null || true
cd "$root"
export RUSTC_BOOTSTRAP=1
nice -n 10 cargo fuzz build sip_message
nice -n 10 cargo fuzz run sip_message "$corpus" -- \
    -max_total_time="$secs" -max_len=8192 -print_final_stats=1 2>&1 | tee "$here/last-run.log" | tail -n 25

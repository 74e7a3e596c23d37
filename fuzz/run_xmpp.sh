#!/usr/bin/env bash
# Run the XMPP fuzz target for SECONDS (default 60), seeded from the golden corpus.
# Usage: fuzz/run_xmpp.sh [SECONDS]
set -euo pipefail
secs="${1:-60}"
cd "$(dirname "$0")"
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
toolchain=()
if rustup toolchain list 2>/dev/null | grep -q nightly; then
    toolchain=(+nightly)
else
    export RUSTC_BOOTSTRAP=1
fi
corpus=corpus/xmpp_stream
mkdir -p "$corpus"
# Seed with stanza-level golden files (whole streams start with their own header).
for f in ../protocol-tests/xmpp/*.xml ../protocol-tests/xmpp/hostile/*.xml; do
    cp -n "$f" "$corpus/seed-$(basename "$f")" 2>/dev/null || true
done
nice -n 10 cargo "${toolchain[@]}" fuzz run xmpp_stream "$corpus" -- \
    -max_total_time="$secs" -max_len=8192 -rss_limit_mb=1024 -dict=xmpp.dict

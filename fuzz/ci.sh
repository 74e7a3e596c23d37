#!/usr/bin/env bash
# CI fuzz stage: every cargo-fuzz target for a bounded time, failing on any crash.
#   fuzz/ci.sh            (PARLEY_FUZZ_SECONDS per target, default 20)
#
# Builds with the active toolchain (fuzz/run-all.sh sets RUSTC_BOOTSTRAP=1 for the sanitizer
# flags), or with PARLEY_FUZZ_TOOLCHAIN (e.g. `nightly`) when set, installing it through rustup
# if missing; cargo-fuzz is installed first when missing. The build is the slow part: its time
# is printed in the table's heading. A failing input is printed here as well as kept under
# fuzz/artifacts/TARGET/, so it survives a CI machine that is thrown away.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
secs="${PARLEY_FUZZ_SECONDS:-20}"
toolchain="${PARLEY_FUZZ_TOOLCHAIN:-}"

if [ -n "$toolchain" ] && command -v rustup >/dev/null; then
    if ! rustup run "$toolchain" rustc --version >/dev/null 2>&1; then
        rustup toolchain install "$toolchain" --profile minimal
    fi
    export FUZZ_TOOLCHAIN="$toolchain"
fi
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked

mkdir -p "$here/artifacts"
marker="$(mktemp)"
if FUZZ_NICE="${FUZZ_NICE:-0}" "$here/run-all.sh" "$secs"; then
    rm -f "$marker"
    exit 0
fi
find "$here/artifacts" -type f -newer "$marker" -print0 |
    while IFS= read -r -d '' f; do
        echo "== failing input ${f#"$here/"} (Python bytes literal):"
        python3 -c 'import sys; print(repr(open(sys.argv[1], "rb").read()[:8192]))' "$f"
    done
rm -f "$marker"
exit 1

#!/usr/bin/env bash
# CI fuzz stage: every cargo-fuzz target for a fixed number of executions with a fixed libFuzzer
# seed, failing on any crash.
#   fuzz/ci.sh            (deterministic: fuzz/run-all.sh's runs() table, -seed=PARLEY_FUZZ_SEED
#                          or 1, a corpus seeded afresh; about 2-3 minutes after the build)
#   PARLEY_FUZZ_SECONDS=N fuzz/ci.sh   (N seconds per target instead: not reproducible)
#
# With -reload=0 and address randomisation off (setarch -R, where the kernel allows it) the
# same tree makes the same inputs in every run (the log lines match but for `pulse` lines),
# so a green run on a developer's machine is a green run in CI, and a red one fails again on
# the same input. Every input under
# fuzz/regressions/TARGET/ is in the seeded corpus, so each run replays them all first.
# FUZZ_BUILD_ONLY=1 builds and stops (CI builds in the background while other stages run);
# FUZZ_NO_BUILD=1 runs what was built. The build keeps no debug info (RUSTFLAGS in fuzz/run-all.sh).
#
# Builds with the active toolchain (fuzz/run-all.sh sets RUSTC_BOOTSTRAP=1 for the sanitizer
# flags), or with PARLEY_FUZZ_TOOLCHAIN (e.g. `nightly`) when set, installing it through rustup
# if missing; cargo-fuzz is installed first when missing. The build is the slow part: its time
# is printed in the table's heading. A failing input is printed here as well as kept under
# fuzz/artifacts/TARGET/, so it survives a CI machine that is thrown away.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
secs="${PARLEY_FUZZ_SECONDS:-}"
if [ -z "$secs" ]; then
    export FUZZ_RUNS="${FUZZ_RUNS:-table}" FUZZ_SEED="${PARLEY_FUZZ_SEED:-1}"
fi
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
if FUZZ_NICE="${FUZZ_NICE:-0}" "$here/run-all.sh" "${secs:-0}"; then
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

#!/usr/bin/env bash
# Bounded fuzz run of every cargo-fuzz target: fuzz/run-all.sh SECONDS_PER_TARGET [TARGET...]
#
# Builds all targets once (release, debug assertions and overflow checks on), seeds each corpus
# from protocol-tests/ and fuzz/regressions/ (fuzz/seed.py), runs each target for the given
# time with a -max_len limit and its dictionary, then prints one row per target: executions,
# executions per second, crashes. Exits 1 when any target crashed, timed out or ran out of
# memory; the failing input is left under fuzz/artifacts/TARGET/. A longer run is the same
# script with a bigger number. Runs without a nightly toolchain through RUSTC_BOOTSTRAP=1.
#
# Deterministic mode (CI): FUZZ_RUNS=table runs each target a fixed number of executions
# (runs() below; FUZZ_RUNS=N runs N each) instead of SECONDS, with libFuzzer's -seed fixed
# (FUZZ_SEED, default 1), from a corpus seeded afresh under fuzz/ci-corpus/ each time, so the
# same tree makes the same inputs: a green run here is a green run in CI. SECONDS is ignored.
#
# Environment: FUZZ_SANITIZER (default none: parley forbids unsafe code; set `address` for a
# slower run that also checks the dependencies' unsafe code), FUZZ_NICE (default 10),
# FUZZ_TOOLCHAIN (a rustup toolchain to build with, e.g. `nightly`; default the active one).
set -euo pipefail
secs="${1:-60}"
shift || true
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
cd "$here"

command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
export RUSTC_BOOTSTRAP=1
# No debug info: cargo-fuzz asks for line tables (`--config profile.release.debug`), which
# only symbolised backtraces use; a panic names its file and line without them, and the build
# is the disk a CI machine lacks. cargo-fuzz appends RUSTFLAGS to its own, so these win.
export RUSTFLAGS="-Cdebuginfo=0 -Cstrip=debuginfo${RUSTFLAGS:+ $RUSTFLAGS}"
sanitizer="${FUZZ_SANITIZER:-none}"
nice_n="${FUZZ_NICE:-10}"
plus=()
[ -z "${FUZZ_TOOLCHAIN:-}" ] || plus=("+$FUZZ_TOOLCHAIN")
triple="$(rustc "${plus[@]}" -vV | sed -n 's/^host: //p')"

all=(sip_message sip_body_pidf sip_body_is_composing sip_body_imdn sip_body_cpim
    sip_body_multipart xmpp_stream jid bridge_sip_to_xmpp bridge_xmpp_to_sip config)
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${all[@]}")

# Per-target input size limit and dictionary.
max_len() {
    case "$1" in
        sip_message | xmpp_stream | bridge_*) echo 8192 ;;
        *) echo 4096 ;;
    esac
}
dict() {
    case "$1" in
        sip_message | bridge_sip_to_xmpp) echo sip ;;
        xmpp_stream | bridge_xmpp_to_sip) echo xmpp ;;
        sip_body_pidf | sip_body_is_composing | sip_body_imdn) echo xml-body ;;
        sip_body_cpim | sip_body_multipart) echo cpim ;;
        *) echo "$1" ;;
    esac
}

# Executions per target in deterministic mode: about 5-15 s each on one core of the
# development machine (a build without debug info); the bridge targets are the slow ones
# (each input is written and reparsed in both protocols).
runs() {
    case "$1" in
        sip_body_*) echo 1000000 ;;
        xmpp_stream | jid) echo 200000 ;;
        config) echo 150000 ;;
        bridge_sip_to_xmpp) echo 120000 ;;
        sip_message) echo 100000 ;;
        bridge_xmpp_to_sip) echo 60000 ;;
        *) echo 100000 ;;
    esac
}
mode="${FUZZ_RUNS:-}"
corpus="corpus"
fixed=()
if [ -n "$mode" ]; then
    corpus="ci-corpus"
    rm -rf "$here/ci-corpus"
    # Two more things make runs differ with the same seed: libFuzzer rereads its corpus
    # directory every second (-reload, wall time) and runs seeds again that added nothing, and
    # address randomisation reaches the inputs through compared values (CMP dictionary
    # entries). Without both, two runs print the same lines and keep the same corpus.
    if setarch "$(uname -m)" -R true 2>/dev/null; then
        fixed=(setarch "$(uname -m)" -R)
    fi
fi

t0=$(date +%s)
# FUZZ_NO_BUILD=1: run the binaries already built (a rerun while the sources change).
[ "${FUZZ_NO_BUILD:-0}" = 1 ] ||
    nice -n "$nice_n" cargo "${plus[@]}" fuzz build --sanitizer "$sanitizer" --target "$triple"
build_secs=$(( $(date +%s) - t0 ))
# FUZZ_BUILD_ONLY=1: build and stop (CI builds ahead, in the background).
[ "${FUZZ_BUILD_ONLY:-0}" = 1 ] && exit 0
python3 "$here/seed.py" "$root" "$here/$corpus" "${targets[@]}" >/dev/null

rows=()
failed=0
for t in "${targets[@]}"; do
    mkdir -p "artifacts/$t" "logs"
    log="logs/$t.log"
    marker="logs/$t.start"
    touch "$marker"
    case "$mode" in
        "") bound=(-max_total_time="$secs") ;;
        table) bound=(-runs="$(runs "$t")" -seed="${FUZZ_SEED:-1}" -reload=0) ;;
        *) bound=(-runs="$mode" -seed="${FUZZ_SEED:-1}" -reload=0) ;;
    esac
    set +e
    nice -n "$nice_n" "${fixed[@]}" "target/$triple/release/$t" "$corpus/$t" "${bound[@]}" \
        -max_len="$(max_len "$t")" -timeout=10 -rss_limit_mb=2048 \
        -dict="dict/$(dict "$t").dict" -artifact_prefix="artifacts/$t/" \
        -print_final_stats=1 >"$log" 2>&1
    rc=$?
    set -e
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n1)
    found=$(find "artifacts/$t" -type f -newer "$marker")
    crashes=$(printf '%s' "$found" | grep -c . || true)
    if [ "$rc" -ne 0 ] && [ "$crashes" -eq 0 ]; then
        crashes=1 # libFuzzer failed without leaving an input (e.g. a seed set that cannot load)
    fi
    if [ "$crashes" -ne 0 ]; then
        failed=1
        echo "== $t failed (exit $rc), see fuzz/$log:" >&2
        grep -m1 -A12 -E "panicked|ERROR: libFuzzer|==ERROR" "$log" >&2 || tail -n 20 "$log" >&2
        [ -z "$found" ] || printf 'input kept: fuzz/%s\n' $found >&2
    fi
    cov=$(sed -n 's/^#[0-9]*.*DONE.*cov: \([0-9]*\).*/\1/p' "$log" | tail -n1)
    rows+=("$(printf '%-24s %12s %10s %8s %6s %8s' "$t" "${execs:-?}" "${rate:-?}" "$crashes" \
        "${cov:-?}" "$(( $(date +%s) - $(stat -c %Y "$marker") ))")")
done

echo
if [ -n "$mode" ]; then
    per="fixed runs (FUZZ_RUNS=$mode), -seed=${FUZZ_SEED:-1}, -reload=0, ${fixed[*]:-address randomisation on}"
else
    per="${secs}s per target"
fi
echo "fuzz: $per, sanitizer=$sanitizer, ${FUZZ_TOOLCHAIN:-active} toolchain, build ${build_secs}s, total $(( $(date +%s) - t0 ))s"
printf '%-24s %12s %10s %8s %6s %8s\n' target executions exec/s crashes cov seconds
printf '%s\n' "${rows[@]}"
exit "$failed"

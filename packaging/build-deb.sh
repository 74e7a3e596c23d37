#!/usr/bin/env bash
# Build the Debian package: release binary, man pages generated from the CLI, then cargo-deb.
#
# usage: packaging/build-deb.sh            prints the path of the .deb (under target/debian/)
# Needs cargo-deb (`cargo install cargo-deb --locked`; installed here when missing).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export PATH="${CARGO_HOME:-${HOME:-/root}/.cargo}/bin:$PATH"
command -v cargo-deb >/dev/null || cargo install cargo-deb --locked >&2
cargo build --release --bin parley >&2
rm -rf target/man && mkdir -p target/man
target/release/parley man target/man >&2
gzip -9nf target/man/*.1
cargo deb --no-build --strip 2>&1 | tail -n 1

#!/usr/bin/env bash
# Builds the Debian package (packaging/build-deb.sh), installs it on this machine with dpkg,
# checks what it installed (binary, unit, man pages, user, state dir, config), runs
# `parley check-config /etc/parley/parley.toml`, then removes it (`dpkg -r`: the conffile
# stays) and purges it (`dpkg --purge`: nothing of it is left).
#
# usage: protocol-tests/ops/check-deb.sh        (root; KEEP=1 leaves the package installed)
# Environment: DEB=path uses that package instead of building one.
# Prints "PASS name"/"FAIL name: reason" and "N passed, M failed" last; exits non-zero on failure.
set -uo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PASSED=0; FAILED=0
pass() { echo "PASS $1"; PASSED=$((PASSED + 1)); }
fail() { echo "FAIL $1: $2"; FAILED=$((FAILED + 1)); }
summary() { echo "$PASSED passed, $FAILED failed"; [ "$FAILED" = 0 ]; }
LOG="$(mktemp -t parley-deb.XXXXXX)"

[ "$(id -u)" = 0 ] || { fail setup "must run as root (dpkg -i)"; summary; exit 1; }
if dpkg-query -W -f '${Status}' parley 2>/dev/null | grep -q 'ok installed'; then
  fail setup "a parley package is already installed; not touching it"; summary; exit 1
fi

deb="${DEB:-$("$REPO/packaging/build-deb.sh" 2>>"$LOG" | tail -n 1)}"
if [ -z "$deb" ] || [ ! -f "$deb" ]; then fail build "no .deb (see $LOG)"; summary; exit 1; fi
pass "build ($(basename "$deb"))"

contents="$(dpkg-deb --contents "$deb")"
for want in ./usr/bin/parley ./etc/parley/parley.toml ./usr/share/man/man1/parley.1.gz \
            ./usr/share/man/man1/parley-run.1.gz ./usr/share/man/man1/parley-report.1.gz; do
  echo "$contents" | grep -q " $want\$" || fail contents "missing $want"
done
echo "$contents" | grep -qE " \./(usr/)?lib/systemd/system/parley\.service\$" || fail contents "missing the systemd unit"
dpkg-deb --ctrl-tarfile "$deb" | tar -xO ./conffiles 2>/dev/null | grep -qx /etc/parley/parley.toml \
  || fail contents "/etc/parley/parley.toml is not a conffile"
[ "$FAILED" = 0 ] && pass contents

cleanup() { [ "${KEEP:-0}" = 1 ] || dpkg --purge parley >>"$LOG" 2>&1 || true; }
trap cleanup EXIT
if DEBIAN_FRONTEND=noninteractive dpkg -i "$deb" >>"$LOG" 2>&1; then pass "dpkg -i"
else fail "dpkg -i" "see $LOG"; summary; exit 1; fi

f0=$FAILED
getent passwd parley >/dev/null || fail installed "no parley user"
[ "$(stat -c %U:%a /var/lib/parley 2>/dev/null)" = parley:750 ] || fail installed "/var/lib/parley is not parley's with mode 750"
[ "$(stat -c %G:%a /etc/parley/parley.toml 2>/dev/null)" = parley:640 ] || fail installed "/etc/parley/parley.toml is not group parley, mode 640"
man -w parley >/dev/null 2>&1 || ! command -v man >/dev/null || fail installed "man parley finds no page"
[ -x /usr/bin/parley ] || fail installed "no /usr/bin/parley"
[ -s /usr/share/man/man1/parley.1.gz ] || fail installed "no /usr/share/man/man1/parley.1.gz"
unit=""
for u in /lib/systemd/system/parley.service /usr/lib/systemd/system/parley.service; do
  [ -f "$u" ] && unit="$u"
done
if [ -z "$unit" ]; then fail installed "no systemd unit"
elif ! cmp -s "$unit" "$REPO/systemd/parley.service"; then fail installed "$unit differs from systemd/parley.service"
fi
[ "$FAILED" = "$f0" ] && pass installed

if out="$(/usr/bin/parley check-config /etc/parley/parley.toml 2>&1)"; then pass "check-config ($out)"
else fail check-config "$out"; fi
# As the service runs it: as user parley, with the service's XDG_DATA_HOME.
if command -v runuser >/dev/null; then
  if out="$(runuser -u parley -- env XDG_DATA_HOME=/var/lib /usr/bin/parley check-config /etc/parley/parley.toml 2>&1)"; then
    pass "check-config as parley"
  else fail "check-config as parley" "$out"; fi
fi

[ "${KEEP:-0}" = 1 ] && { summary; exit; }
trap - EXIT
if dpkg -r parley >>"$LOG" 2>&1 && [ ! -e /usr/bin/parley ] && [ -f /etc/parley/parley.toml ]; then
  pass "dpkg -r (binary gone, conffile kept)"
else fail "dpkg -r" "see $LOG"; fi
if dpkg --purge parley >>"$LOG" 2>&1 && [ ! -e /etc/parley/parley.toml ] \
   && ! dpkg-query -W -f '${Status}' parley 2>/dev/null | grep -q 'ok installed'; then
  pass "dpkg --purge (conffile gone)"
else fail "dpkg --purge" "see $LOG"; fi
summary

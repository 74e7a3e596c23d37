#!/usr/bin/env bash
# Install what the interop suite needs on Debian 12 (run as root). Idempotent, and quick when
# everything is already there (no apt-get update then).
#   apt: prosody (+ lua-unbound, only Recommended by Debian, needed to read /etc/hosts),
#        kamailio + kamailio-tls-modules, python3-venv, openssl, iproute2, util-linux, curl;
#        ejabberd for the federation scenarios (s2s.sh); sip-tester (SIPp), stunnel4 for later ones;
#        prometheus (server and promtool), systemd (systemd-analyze), man-db for the ops checks;
#        nftables for the packet-loss fault (random drops where the kernel has no netem).
#   pip: a venv at $PARLEY_INTEROP_VENV (default /tmp/parley-interop/venv) with slixmpp and
#        pjsua2-python (manylinux wheel for CPython 3.11, Debian 12's python3).
# Distro services are not started by the packages' install scripts: when the machine has no
# /usr/sbin/policy-rc.d, a temporary one that denies starts is put in place during apt-get.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$HERE/lib.sh"

APT_PACKAGES=(
  prosody lua-unbound kamailio kamailio-tls-modules python3-venv openssl iproute2 util-linux curl
  ejabberd sip-tester stunnel4
  prometheus systemd man-db nftables
)
PIP_PACKAGES=(slixmpp==1.17.0 pjsua2-python==2.15.1.post1)
PY=/usr/bin/python3   # Debian's interpreter: the pjsua2 wheel is built for CPython 3.11

[ "$(id -u)" = 0 ] || { echo "install.sh: run as root" >&2; exit 1; }

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "install.sh: apt-get install ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  policy=/usr/sbin/policy-rc.d; made_policy=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' > "$policy"; chmod 755 "$policy"; made_policy=1
    trap '[ "$made_policy" = 1 ] && rm -f "$policy"' EXIT
  fi
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
else
  echo "install.sh: apt packages already installed"
fi

mkdir -p "$(dirname "$VENV")"
if [ ! -x "$VENV/bin/python" ]; then
  echo "install.sh: creating venv $VENV"
  "$PY" -m venv "$VENV"
fi
if ! "$VENV/bin/python" - "${PIP_PACKAGES[@]}" <<'PYEOF' 2>/dev/null
import sys
from importlib.metadata import version
for spec in sys.argv[1:]:
    name, want = spec.split("==")
    if version(name) != want:
        sys.exit(1)
import slixmpp, pjsua2  # noqa: F401  (the wheels must also import)
PYEOF
then
  echo "install.sh: pip install ${PIP_PACKAGES[*]}"
  "$VENV/bin/pip" install -q --disable-pip-version-check "${PIP_PACKAGES[@]}"
fi
"$VENV/bin/python" -c 'import slixmpp, pjsua2; print("install.sh: venv ok: slixmpp", slixmpp.__version__, "+ pjsua2")'

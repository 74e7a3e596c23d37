#!/usr/bin/env bash
# Make a private TEST CA and one certificate per domain, usable for XMPP s2s/c2s and SIP over TLS.
# Test material only: never use these keys (or this script) for a real deployment.
#
# usage: certs/make-certs.sh [-o DIR] [domain[=ip[,ip...]] ...]
#   -o DIR / CERTS_OUT=DIR   output directory (default: certs/out, which git ignores)
#   XMPPADDR=1               also add an XmppAddr SAN (ejabberd 23.01 rejects peers that carry one)
#   default domains:         xmpp.test=127.0.0.2,127.0.0.5 sip.test=127.0.0.3,127.0.0.4
#
# Output in DIR: ca.crt ca.key, and per domain <d>.crt <d>.key <d>.pem (cert+key) <d>.chain.pem (cert+CA).
# An existing CA in DIR is reused (delete DIR to start over); domain certificates are always remade.
#
# Subject alternative names of each domain certificate:
#   DNS:<d>, DNS:*.<d>                  XMPP DNS-ID (RFC 6125) and subdomains
#   URI:sip:<d>                         SIP domain certificate (RFC 5922 section 7.1)
#   otherName SRVName _xmpp-server.<d>  XMPP SRV-ID (RFC 4985, XEP-0178), and _xmpp-client.<d>
#   IP:<each address given>             for peers that check the address they dialled (pjsua2)
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
OUT="${CERTS_OUT:-$HERE/out}"
if [ "${1:-}" = "-o" ]; then
  [ $# -ge 2 ] || { echo "usage: $0 [-o DIR] [domain[=ip,...] ...]" >&2; exit 64; }
  OUT="$2"; shift 2
fi
[ $# -gt 0 ] || set -- xmpp.test=127.0.0.2,127.0.0.5 sip.test=127.0.0.3,127.0.0.4
DAYS=3650
mkdir -p "$OUT"

if [ ! -s "$OUT/ca.crt" ] || [ ! -s "$OUT/ca.key" ]; then
  openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days "$DAYS" \
    -keyout "$OUT/ca.key" -out "$OUT/ca.crt" -subj "/O=Parley Test/CN=Parley Test CA (not for production)" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -addext "subjectKeyIdentifier=hash" 2>/dev/null
  echo "made $OUT/ca.crt"
fi

for spec in "$@"; do
  d="${spec%%=*}"; ips=""
  [ "$spec" != "$d" ] && ips="${spec#*=}"
  case "$d" in ''|*[!A-Za-z0-9.-]*) echo "bad domain: '$d'" >&2; exit 64;; esac
  san="DNS:$d,DNS:*.$d,URI:sip:$d"
  san="$san,otherName:1.3.6.1.5.5.7.8.7;IA5:_xmpp-server.$d,otherName:1.3.6.1.5.5.7.8.7;IA5:_xmpp-client.$d"
  [ "${XMPPADDR:-0}" = 1 ] && san="$san,otherName:1.3.6.1.5.5.7.8.5;UTF8:$d"
  for a in ${ips//,/ }; do san="$san,IP:$a"; done
  ext="$(mktemp)"
  cat > "$ext" <<EXT
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth,clientAuth
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid
subjectAltName=$san
EXT
  openssl req -new -newkey rsa:2048 -nodes -sha256 -keyout "$OUT/$d.key" \
    -subj "/O=Parley Test/CN=$d" -out "$OUT/$d.csr" 2>/dev/null
  openssl x509 -req -in "$OUT/$d.csr" -CA "$OUT/ca.crt" -CAkey "$OUT/ca.key" -CAcreateserial \
    -days "$DAYS" -sha256 -extfile "$ext" -out "$OUT/$d.crt" 2>/dev/null
  rm -f "$ext" "$OUT/$d.csr"
  cat "$OUT/$d.crt" "$OUT/$d.key" > "$OUT/$d.pem"
  cat "$OUT/$d.crt" "$OUT/ca.crt" > "$OUT/$d.chain.pem"
  # Test keys are world-readable so that peers which drop root (ejabberd) can read them.
  chmod 644 "$OUT/$d.key" "$OUT/$d.pem"
  openssl verify -CAfile "$OUT/ca.crt" "$OUT/$d.crt" >/dev/null
  echo "made $OUT/$d.crt ($san)"
done

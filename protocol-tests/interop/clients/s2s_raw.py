#!/usr/bin/env python3
"""A minimal raw XMPP server-to-server initiator for the federation scenarios (s2s.sh).

Opens an s2s stream to --server:--port as --from (to --to), STARTTLS, presents --cert/--key as
TLS client certificate (the receiving server is verified against --ca for --to), SASL EXTERNAL
with --from as authorization identity, restarts the stream, then sends each --stanza as it is
(in order) and reads what comes back until the peer closes the stream or --timeout passes.

Machine-checkable output, one line per event:

  STEP <what>                      each negotiation step that succeeded
  AUTHENTICATED                    SASL EXTERNAL succeeded
  SENT <stanza>
  STREAM-ERROR condition=<condition> text=<text>
  SASL-FAILURE condition=<condition>
  CLOSED by=<peer|timeout>
  FAIL <reason>                    the negotiation could not be completed

Exit 0 when the stream was authenticated and the stanzas were written, 1 otherwise.
"""
import argparse
import base64
import re
import socket
import ssl
import sys
import time

NS_STREAMS = "http://etherx.jabber.org/streams"


def header(frm, to):
    return (f"<?xml version='1.0'?><stream:stream xmlns='jabber:server' "
            f"xmlns:stream='{NS_STREAMS}' xmlns:db='jabber:server:dialback' "
            f"from='{frm}' to='{to}' version='1.0'>").encode()


class Conn:
    def __init__(self, sock, deadline):
        self.sock, self.buf, self.deadline = sock, b"", deadline

    def send(self, data):
        self.sock.sendall(data)

    def read_until(self, pattern):
        """Read until the buffer matches PATTERN (bytes regex); return the match, consume it."""
        rx = re.compile(pattern, re.S)
        while True:
            m = rx.search(self.buf)
            if m:
                self.buf = self.buf[m.end():]
                return m
            if stream_error(self.buf) or b"</stream:stream>" in self.buf:
                return None
            left = self.deadline - time.time()
            if left <= 0:
                return None
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except (socket.timeout, ssl.SSLError, OSError):
                return None
            if not chunk:
                return None
            self.buf += chunk


def stream_error(buf):
    m = re.search(rb"<stream:error>(.*?)</stream:error>", buf, re.S)
    if not m:
        return None
    inner = m.group(1)
    cond = re.search(rb"<([a-z-]+)[^>]*xmlns=['\"]urn:ietf:params:xml:ns:xmpp-streams['\"]", inner)
    text = re.search(rb"<text[^>]*>(.*?)</text>", inner, re.S)
    return (cond.group(1).decode() if cond else "?", text.group(1).decode() if text else "")


def fail(conn, why):
    err = stream_error(conn.buf) if conn else None
    if err:
        print(f"STREAM-ERROR condition={err[0]} text={err[1]}", flush=True)
    print(f"FAIL {why}", flush=True)
    return False


def run(a):
    deadline = time.time() + a.timeout
    sock = socket.create_connection((a.server, a.port), timeout=a.timeout)
    c = Conn(sock, deadline)
    c.send(header(a.frm, a.to))
    if not c.read_until(rb"<stream:features.*?</stream:features>|<stream:features[^>]*/>"):
        return fail(c, "no stream features before STARTTLS")
    c.send(b"<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
    if not c.read_until(rb"<proceed[^>]*/>"):
        return fail(c, "no <proceed/>")
    ctx = ssl.create_default_context(cafile=a.ca)
    ctx.load_cert_chain(a.cert, a.key)
    tls = ctx.wrap_socket(sock, server_hostname=a.to)
    print(f"STEP tls peer={a.to} verified", flush=True)
    c = Conn(tls, deadline)
    c.send(header(a.frm, a.to))
    m = c.read_until(rb"<stream:features.*?</stream:features>|<stream:features[^>]*/>")
    if not m:
        return fail(c, "no stream features after TLS")
    if b"EXTERNAL" not in m.group(0):
        return fail(c, f"SASL EXTERNAL not offered: {m.group(0).decode(errors='replace')}")
    authzid = base64.b64encode(a.frm.encode()).decode()
    c.send(f"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='EXTERNAL'>{authzid}</auth>".encode())
    m = c.read_until(rb"<success[^>]*/>|<success.*?</success>|<failure.*?</failure>")
    if not m or m.group(0).startswith(b"<failure"):
        cond = re.search(rb"<failure[^>]*><([a-z-]+)", m.group(0)) if m else None
        if cond:
            print(f"SASL-FAILURE condition={cond.group(1).decode()}", flush=True)
        return fail(c, "SASL EXTERNAL refused")
    print("AUTHENTICATED", flush=True)
    c.send(header(a.frm, a.to))
    if not c.read_until(rb"<stream:features.*?</stream:features>|<stream:features[^>]*/>"):
        return fail(c, "no stream features after SASL")
    for st in a.stanza:
        try:
            c.send(st.encode())
        except OSError as e:
            return fail(c, f"write failed: {e}")
        print(f"SENT {st}", flush=True)
    # Read what comes back until the stream is closed or the time is up.
    closed = c.read_until(rb"</stream:stream>")
    err = stream_error(c.buf if closed is None else c.buf + closed.group(0))
    if err is None and closed is not None:
        err = stream_error(closed.string)
    if err:
        print(f"STREAM-ERROR condition={err[0]} text={err[1]}", flush=True)
    print(f"CLOSED by={'peer' if time.time() < deadline else 'timeout'}", flush=True)
    try:
        c.send(b"</stream:stream>")
    except OSError:
        pass
    return True


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--server", required=True)
    p.add_argument("--port", type=int, default=5269)
    p.add_argument("--from", dest="frm", required=True, help="the domain to authenticate as")
    p.add_argument("--to", required=True)
    p.add_argument("--ca", required=True)
    p.add_argument("--cert", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--stanza", action="append", default=[], help="raw XML sent after authentication")
    p.add_argument("--timeout", type=float, default=10)
    a = p.parse_args()
    try:
        ok = run(a)
    except (OSError, ssl.SSLError) as e:
        print(f"FAIL {type(e).__name__}: {e}", flush=True)
        ok = False
    sys.exit(0 if ok else 1)

#!/usr/bin/env python3
"""Stand-in peers for parley's fault-injection and soak scripts (protocol-tests/faults,
protocol-tests/soak): a SIP UA and a SIP proxy over TLS (RFC 3261, RFC 3428) and an XMPP
server and initiating server over direct TLS (RFC 6120, XEP-0368, SASL EXTERNAL), each able
to misbehave on request. Every peer appends one line per event to its --log file:
  sent ID | status ID CODE | got ID   (IDs are the message tokens carried in the bodies)
so the driver can count sent = delivered + bounced (+ spooled) per message.
Only loopback (inside the script's own network namespace) is used.
"""
import argparse
import asyncio
import base64
import os
import random
import re
import socket
import ssl
import struct
import sys
import time

TOKEN = re.compile(rb"tok-[A-Za-z0-9_-]+")


class Log:
    def __init__(self, path):
        self.f = open(path, "a", buffering=1)

    def __call__(self, *parts):
        self.f.write(" ".join(str(p) for p in parts) + "\n")


def client_ctx(a, domain, server_name_check=True):
    ctx = ssl.create_default_context(cafile=os.path.join(a.certs, "ca.crt"))
    ctx.check_hostname = server_name_check
    ctx.load_cert_chain(os.path.join(a.certs, f"{domain}.crt"), os.path.join(a.certs, f"{domain}.key"))
    return ctx


def server_ctx(a, domain):
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=os.path.join(a.certs, "ca.crt"))
    ctx.load_cert_chain(os.path.join(a.certs, f"{domain}.crt"), os.path.join(a.certs, f"{domain}.key"))
    ctx.verify_mode = ssl.CERT_OPTIONAL
    return ctx


def abort(writer):
    """Close with a TCP reset (SO_LINGER 0): the peer dies mid-stream."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
    writer.transport.abort()


# ---------------------------------------------------------------- SIP

async def read_sip(reader):
    head = await reader.readuntil(b"\r\n\r\n")
    m = re.search(rb"(?im)^(?:content-length|l)\s*:\s*(\d+)", head)
    body = await reader.readexactly(int(m.group(1))) if m else b""
    return head, body


def sip_message(frm, to, tok, n, body_extra=""):
    body = f"{tok} {body_extra}".encode()
    return (
        f"MESSAGE sip:{to} SIP/2.0\r\nVia: SIP/2.0/TLS 127.0.0.1:5999;branch=z9hG4bK-{tok}-{n}\r\n"
        f"Max-Forwards: 70\r\nFrom: <sip:{frm}>;tag=f{n}\r\nTo: <sip:{to}>\r\nCall-ID: {tok}\r\n"
        f"CSeq: {n} MESSAGE\r\nContent-Type: text/plain;charset=UTF-8\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body


async def sip_ua(a):
    """Send --count MESSAGEs (--window in flight) from --from to --to; log sent/status lines.
    A lost connection is reopened; requests without a final response then are logged with
    status 0 (no answer)."""
    log = Log(a.log)
    pending = {}
    ctx = client_ctx(a, a.from_.split("@")[1])
    sem = asyncio.Semaphore(a.window)
    state = {"w": None, "r": None}
    conn_lock = asyncio.Lock()

    async def connect():
        async with conn_lock:
            if state["w"] is None:
                r, w = await asyncio.open_connection(a.host, a.port, ssl=ctx, server_hostname=a.server_name)
                state["r"], state["w"] = r, w
                asyncio.create_task(reader(r, w))

    async def reader(r, w):
        try:
            while True:
                head, _ = await read_sip(r)
                code = int(head.split(b" ", 2)[1])
                cid = re.search(rb"(?im)^call-id\s*:\s*(\S+)", head).group(1).decode()
                if code >= 200 and cid in pending:
                    log("status", cid, code)
                    pending.pop(cid).set()
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError, OSError):
            pass
        if state["w"] is w:
            state["w"] = None
        for cid, ev in list(pending.items()):
            log("status", cid, 0)
            pending.pop(cid).set()

    async def one(i):
        async with sem:
            tok = f"tok-{a.tag}-{i}"
            ev = asyncio.Event()
            for attempt in range(20):
                try:
                    await connect()
                    break
                except OSError:
                    await asyncio.sleep(0.25)
            else:
                log("sent", tok)
                log("status", tok, 0)
                return
            pending[tok] = ev
            log("sent", tok)
            state["w"].write(sip_message(a.from_, a.to, tok, i + 1))
            try:
                await asyncio.wait_for(ev.wait(), a.timeout)
            except asyncio.TimeoutError:
                if pending.pop(tok, None) is not None:
                    log("status", tok, 0)
            if a.gap:
                await asyncio.sleep(a.gap)

    await asyncio.gather(*(one(i) for i in range(a.count)))


async def sip_proxy(a):
    """Accept parley's TLS connections; answer MESSAGE 200 and log 'got TOKEN'. Misbehaviours:
    --blackhole (accept TCP, never answer), --kill-after N (reset the connection after N
    requests, then refuse connections for --down seconds)."""
    log = Log(a.log)
    ctx = server_ctx(a, a.domain)
    seen = {"n": 0}
    server = None

    async def handle(r, w):
        if a.blackhole:
            await asyncio.sleep(3600)
            return
        try:
            while True:
                head, body = await read_sip(r)
                if head.startswith(b"SIP/2.0"):
                    continue
                seen["n"] += 1
                if a.kill_after and seen["n"] == a.kill_after:
                    # Killed after reading the request, before answering it.
                    m = TOKEN.search(body)
                    log("got", m.group(0).decode() if m else "?")
                    abort(w)
                    server.close()
                    await asyncio.sleep(a.down)
                    await restart()
                    return
                m = TOKEN.search(body)
                if m:
                    log("got", m.group(0).decode())
                lines = head.decode(errors="replace").split("\r\n")
                keep = [l for l in lines[1:] if l.split(":")[0].lower() in ("via", "v", "from", "f", "call-id", "i", "cseq", "to", "t")]
                keep = [l + ";tag=proxy" if l.split(":")[0].lower() in ("to", "t") else l for l in keep]
                w.write(("SIP/2.0 200 OK\r\n" + "\r\n".join(keep) + "\r\nContent-Length: 0\r\n\r\n").encode())
                await w.drain()
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError, OSError):
            pass

    async def restart():
        nonlocal server
        server = await asyncio.start_server(handle, a.host, a.port, ssl=None if a.blackhole else ctx, reuse_address=True)

    await restart()
    await asyncio.sleep(a.duration)


# ---------------------------------------------------------------- XMPP

HDR = ("<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' "
       "from='{f}' to='{t}' version='1.0' id='{i}'>")


async def read_until(r, marker, buf):
    while marker not in buf[0]:
        chunk = await r.read(65536)
        if not chunk:
            raise ConnectionError("closed")
        buf[0] += chunk
    i = buf[0].index(marker) + len(marker)
    out, buf[0] = buf[0][:i], buf[0][i:]
    return out


PING = re.compile(rb"^\s*<iq[^>]* id='([^']*)'[^>]*>\s*<ping xmlns='urn:xmpp:ping'")


async def read_element(r, buf):
    """The next <message/> or <iq/> (whichever ends first; whitespace before it included)."""
    while True:
        ends = [buf[0].find(m) + len(m) for m in (b"</message>", b"</iq>") if m in buf[0]]
        if ends:
            i = min(ends)
            out, buf[0] = buf[0][:i], buf[0][i:]
            return out
        chunk = await r.read(65536)
        if not chunk:
            raise ConnectionError("closed")
        buf[0] += chunk


async def xmpp_server(a):
    """parley's XMPP next hop (direct TLS, SASL EXTERNAL). Logs 'got TOKEN' per message and
    'bounce TOKEN CONDITION' per error stanza. Misbehaviours: --blackhole, --kill-after N
    (reset after N stanzas, then refuse connections for --down seconds)."""
    log = Log(a.log)
    ctx = server_ctx(a, a.domain)
    seen = {"n": 0}
    server = None

    async def handle(r, w):
        if a.blackhole:
            await asyncio.sleep(3600)
            return
        buf = [b""]
        try:
            await read_until(r, b">", buf)  # <?xml?> or header
            if b"<stream:stream" not in buf[0] and not buf[0].startswith(b"<stream"):
                await read_until(r, b">", buf)
            w.write(HDR.format(f=a.domain, t="x", i="s1").encode())
            w.write(b"<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>EXTERNAL</mechanism></mechanisms></stream:features>")
            await read_until(r, b"</auth>", buf)
            w.write(b"<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>")
            await read_until(r, b"<stream:stream", buf)
            await read_until(r, b">", buf)
            w.write(HDR.format(f=a.domain, t="x", i="s2").encode() + b"<stream:features/>")
            while True:
                chunk = await read_element(r, buf)
                ping = PING.search(chunk)
                if ping:
                    # Answer XEP-0199 pings: parley holds each written stanza until the
                    # answer to a ping written after it confirms it.
                    w.write(b"<iq type='result' id='%s' from='%s' to='sip.test'/>" % (ping.group(1), a.domain.encode()))
                    continue
                seen["n"] += 1
                if a.kill_after and seen["n"] == a.kill_after:
                    m = TOKEN.search(chunk)
                    log("got", m.group(0).decode() if m else "?")
                    abort(w)
                    server.close()
                    await asyncio.sleep(a.down)
                    await restart()
                    return
                m = TOKEN.search(chunk)
                tok = m.group(0).decode() if m else "?"
                if b"type='error'" in chunk or b'type="error"' in chunk:
                    cond = re.search(rb"<([a-z-]+) xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'", chunk)
                    log("bounce", tok, cond.group(1).decode() if cond else "?")
                else:
                    log("got", tok)
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError, OSError):
            pass

    async def restart():
        nonlocal server
        server = await asyncio.start_server(handle, a.host, a.port, ssl=None if a.blackhole else ctx, reuse_address=True)

    await restart()
    await asyncio.sleep(a.duration)


async def xmpp_sender(a):
    """Open an s2s stream to parley (direct TLS, SASL EXTERNAL) and send --count messages.
    --reset-half: after the messages, send half a stanza and reset the connection."""
    log = Log(a.log)
    dom = a.from_.split("@")[1]
    ctx = client_ctx(a, dom)
    sent = 0
    while sent < a.count:
        try:
            r, w = await asyncio.open_connection(a.host, a.port, ssl=ctx, server_hostname=a.server_name)
            buf = [b""]
            w.write(HDR.format(f=dom, t=a.server_name, i="").replace(" id=''", "").encode())
            await read_until(r, b"</stream:features>", buf)
            w.write(b"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='EXTERNAL'>" + base64.b64encode(dom.encode()) + b"</auth>")
            out = await read_until(r, b"/>", buf)
            if b"success" not in out:
                raise ConnectionError("SASL refused")
            w.write(HDR.format(f=dom, t=a.server_name, i="").replace(" id=''", "").encode())
            await read_until(r, b"features", buf)
            while sent < a.count:
                tok = f"tok-{a.tag}-{sent}"
                log("sent", tok)
                w.write(f"<message from='{a.from_}/r' to='{a.to}' type='chat' id='{tok}'><body>{tok}</body></message>".encode())
                if a.presence and sent % 5 == 0:
                    show = ("away", "chat", "dnd", "xa")[sent // 5 % 4]
                    w.write(f"<presence from='{a.from_}/r' to='{a.to}'><show>{show}</show></presence>".encode())
                await w.drain()
                sent += 1
                if a.gap:
                    await asyncio.sleep(a.gap)
            if a.reset_half:
                # Let parley read the whole stanzas first: a reset discards whatever the
                # receiver's kernel still holds, which no un-acknowledged protocol recovers.
                await asyncio.sleep(1.0)
                w.write(f"<message from='{a.from_}/r' to='{a.to}' type='chat' id='half'><bo".encode())
                await w.drain()
                abort(w)
            else:
                w.write(b"</stream:stream>")
                await w.drain()
                await asyncio.sleep(0.5)
                w.close()
        except (ConnectionError, ssl.SSLError, OSError) as e:
            print(f"xmpp sender: {e}; reconnecting", file=sys.stderr)
            await asyncio.sleep(0.5)


async def lossy_proxy(a):
    """Where the kernel has no netem: a TCP relay from --port to --to-port that emulates packet
    loss as TCP sees it. Each chunk is, with probability --loss, held back for a
    retransmission timeout (--rto, doubling on consecutive losses, as RFC 6298 backs off),
    so streams stall and recover the way a lossy link makes them; bytes are never dropped,
    since TCP would have retransmitted them."""
    rng = random.Random(a.seed)

    async def pump(r, w):
        rto = a.rto
        try:
            while True:
                chunk = await r.read(1400)
                if not chunk:
                    break
                while rng.random() < a.loss:
                    await asyncio.sleep(rto)
                    rto = min(rto * 2, 3.0)
                else:
                    rto = a.rto
                w.write(chunk)
                await w.drain()
        except (ConnectionError, OSError):
            pass
        try:
            w.close()
        except OSError:
            pass

    async def handle(r, w):
        try:
            r2, w2 = await asyncio.open_connection(a.host, a.to_port)
        except OSError:
            w.close()
            return
        await asyncio.gather(pump(r, w2), pump(r2, w))

    await asyncio.start_server(handle, a.host, a.port, reuse_address=True)
    await asyncio.sleep(a.duration)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("role", choices=["sip-ua", "sip-proxy", "xmpp-server", "xmpp-sender", "lossy-proxy"])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--certs", required=True)
    p.add_argument("--log", required=True)
    p.add_argument("--domain", default="")
    p.add_argument("--from", dest="from_", default="")
    p.add_argument("--to", default="")
    p.add_argument("--server-name", default="")
    p.add_argument("--tag", default="t")
    p.add_argument("--count", type=int, default=50)
    p.add_argument("--window", type=int, default=4)
    p.add_argument("--gap", type=float, default=0.0)
    p.add_argument("--timeout", type=float, default=40.0)
    p.add_argument("--duration", type=float, default=3600.0)
    p.add_argument("--blackhole", action="store_true")
    p.add_argument("--kill-after", type=int, default=0)
    p.add_argument("--down", type=float, default=2.0)
    p.add_argument("--reset-half", action="store_true")
    p.add_argument("--presence", action="store_true")
    p.add_argument("--to-port", type=int, default=0)
    p.add_argument("--loss", type=float, default=0.2)
    p.add_argument("--rto", type=float, default=0.2)
    p.add_argument("--seed", type=int, default=12)
    a = p.parse_args()
    role = {"sip-ua": sip_ua, "sip-proxy": sip_proxy, "xmpp-server": xmpp_server,
            "xmpp-sender": xmpp_sender, "lossy-proxy": lossy_proxy}[a.role]
    try:
        asyncio.run(role(a))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()

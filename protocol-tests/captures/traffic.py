#!/usr/bin/env python3
"""Plain-text SIP and XMPP traffic on the loopback, for recording replay fixtures.

Each scenario runs a tiny server and a client on 127.0.0.1 (or ::1) with fixed ports, so a
re-recorded capture differs from the committed one only in timestamps and TCP sequence numbers.
The traffic mirrors parley's interop scenarios (SIP MESSAGE both ways, an XMPP s2s stream with
dialback, chat, receipts, presence, iq), in plain text.

  traffic.py sip-udp | sip-tcp | xmpp-s2s | xmpp-starttls | sip-tls
"""
import socket
import sys
import threading
import time

HOST = "127.0.0.1"


def sip_request(method, uri, frm, to, call_id, cseq, via, body=b"", ctype=None, extra=()):
    lines = [
        f"{method} {uri} SIP/2.0",
        f"Via: SIP/2.0/{via};branch=z9hG4bK{call_id[:8]}{cseq}",
        "Max-Forwards: 70",
        f"From: <{frm}>;tag=a{cseq}",
        f"To: <{to}>",
        f"Call-ID: {call_id}",
        f"CSeq: {cseq} {method}",
    ]
    lines += list(extra)
    if ctype:
        lines.append(f"Content-Type: {ctype}")
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def sip_response(req, code, reason):
    head = req.split(b"\r\n\r\n", 1)[0].decode()
    keep = [l for l in head.split("\r\n")[1:] if l.split(":")[0] in ("Via", "From", "To", "Call-ID", "CSeq")]
    keep = [l + ";tag=srv1" if l.startswith("To:") else l for l in keep]
    return (f"SIP/2.0 {code} {reason}\r\n" + "\r\n".join(keep) + "\r\nContent-Length: 0\r\n\r\n").encode()


SIP_REQUESTS = [
    ("MESSAGE", "sip:juliet@xmpp.test", "sip:romeo@sip.test", b"Hello from SIP", "text/plain;charset=UTF-8",
     ("Subject: balcony", "Content-Language: en")),
    ("MESSAGE", "sip:juliet@xmpp.test", "sip:romeo@sip.test", b"<b>bold</b>", "text/html", ()),
    ("OPTIONS", "sip:xmpp.test", "sip:romeo@sip.test", b"", None, ()),
    ("MESSAGE", "sip:nobody@xmpp.test", "sip:romeo@sip.test", "caf\u00e9 \u2615".encode(), "text/plain;charset=UTF-8", ()),
]
ANSWERS = [(202, "Accepted"), (415, "Unsupported Media Type"), (200, "OK"), (404, "Not Found")]


def sip_udp():
    srv = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    srv.bind((HOST, 5060))
    cli = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    cli.bind((HOST, 5070))
    for i, (m, uri, frm, body, ct, extra) in enumerate(SIP_REQUESTS):
        req = sip_request(m, uri, frm, uri, f"udp{i}call@sip.test", i + 1, f"UDP {HOST}:5070", body, ct, extra)
        cli.sendto(req, (HOST, 5060))
        data, addr = srv.recvfrom(65535)
        srv.sendto(sip_response(data, *ANSWERS[i]), addr)
        cli.recvfrom(65535)
        time.sleep(0.01)
    cli.sendto(b"\r\n\r\n", (HOST, 5060))  # keep-alive
    srv.recvfrom(65535)


def serve_once(port, handler, family=socket.AF_INET, host=HOST):
    ls = socket.socket(family, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((host, port))
    ls.listen(1)

    def run():
        conn, _ = ls.accept()
        handler(conn)
        conn.close()
        ls.close()

    t = threading.Thread(target=run)
    t.start()
    return t


def connect(port, src_port, family=socket.AF_INET, host=HOST):
    s = socket.socket(family, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.bind((host, src_port))
    s.connect((host, port))
    return s


def read_sip(conn, buf):
    while b"\r\n\r\n" not in buf:
        buf += conn.recv(65535)
    head, rest = buf.split(b"\r\n\r\n", 1)
    length = int([l for l in head.split(b"\r\n") if l.lower().startswith(b"content-length")][0].split(b":")[1])
    while len(rest) < length:
        rest += conn.recv(65535)
    return head + b"\r\n\r\n" + rest[:length], rest[length:]


def sip_tcp():
    def server(conn):
        buf = b""
        for i in range(len(SIP_REQUESTS)):
            req, buf = read_sip(conn, buf)
            conn.sendall(sip_response(req, *ANSWERS[i]))
        conn.recv(10)

    t = serve_once(5062, server)
    time.sleep(0.05)
    c = connect(5062, 40100)
    buf = b""
    for i, (m, uri, frm, body, ct, extra) in enumerate(SIP_REQUESTS):
        req = sip_request(m, uri, frm, uri, f"tcp{i}call@sip.test", i + 1, f"TCP {HOST}:40100", body, ct, extra)
        # Head and body in separate segments, so the framer must join them.
        head, _, rest = req.partition(b"\r\n\r\n")
        c.sendall(head + b"\r\n\r\n")
        time.sleep(0.005)
        if rest:
            c.sendall(rest)
        _, buf = read_sip(c, buf)
    c.close()
    t.join()


STREAM_NS = "xmlns='jabber:server' xmlns:db='jabber:server:dialback' xmlns:stream='http://etherx.jabber.org/streams'"
XMPP_INITIATOR = [
    f"<?xml version='1.0'?><stream:stream {STREAM_NS} from='xmpp.test' to='sip.test' version='1.0'>",
    "<db:result from='xmpp.test' to='sip.test'>b4835385f37fe2895af6c196b59097b16862406db80559900d596a17ff3d8bf8</db:result>",
    "<message from='juliet@xmpp.test/balcony' to='romeo@sip.test' type='chat' id='m1' xml:lang='en'>"
    "<body>Wherefore art thou?</body><thread>t-0001</thread><request xmlns='urn:xmpp:receipts'/></message>",
    "<message from='juliet@xmpp.test/balcony' to='romeo@sip.test' type='chat' id='m2'>"
    "<composing xmlns='http://jabber.org/protocol/chatstates'/></message>",
    "<presence from='juliet@xmpp.test/balcony' to='romeo@sip.test'><show>away</show><status>at the balcony</status></presence>",
    "<iq from='xmpp.test' to='sip.test' type='get' id='ping1'><ping xmlns='urn:xmpp:ping'/></iq>",
    " ",
    "<message from='juliet@xmpp.test/balcony' to='romeo@sip.test' type='chat' id='m3'>"
    "<subject>plans</subject><body>Meet me at &lt;dawn&gt; &amp; bring \u2615</body></message>",
    "<message from='juliet@xmpp.test' to='romeo@sip.test' type='groupchat' id='m4'><body>to the room</body></message>",
    "</stream:stream>",
]
XMPP_RECEIVER = [
    f"<?xml version='1.0'?><stream:stream {STREAM_NS} from='sip.test' to='xmpp.test' id='s2s-0001' version='1.0'>"
    "<stream:features><dialback xmlns='urn:xmpp:features:dialback'/></stream:features>",
    "<db:result from='sip.test' to='xmpp.test' type='valid'/>",
    "<message from='romeo@sip.test' to='juliet@xmpp.test/balcony' id='m1' type='chat'><received xmlns='urn:xmpp:receipts' id='m1'/></message>",
    "<iq from='sip.test' to='xmpp.test' type='result' id='ping1'/>",
    "<message from='romeo@sip.test' to='juliet@xmpp.test' type='error' id='m4'>"
    "<error type='cancel'><service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>",
    "</stream:stream>",
]


def xmpp_s2s(family=socket.AF_INET, host=HOST):
    """Initiator on 40200 -> receiver on 5269; replies interleave with requests."""
    replies_after = {0: [0], 1: [1], 2: [2], 5: [3], 8: [4], 9: [5]}

    def server(conn):
        got = b""
        for i, _ in enumerate(XMPP_INITIATOR):
            want = XMPP_INITIATOR[i].encode()
            while len(got) < len(want):
                got += conn.recv(65535)
            got = got[len(want):]
            for r in replies_after.get(i, []):
                conn.sendall(XMPP_RECEIVER[r].encode())

    t = serve_once(5269, server, family, host)
    time.sleep(0.05)
    c = connect(5269, 40200, family, host)
    for i, chunk in enumerate(XMPP_INITIATOR):
        data = chunk.encode()
        if i == 2:
            # One stanza split over three segments.
            for part in (data[:40], data[40:90], data[90:]):
                c.sendall(part)
                time.sleep(0.005)
        else:
            c.sendall(data)
        time.sleep(0.01)
    time.sleep(0.05)
    c.close()
    t.join()


def xmpp_starttls():
    def server(conn):
        conn.recv(65535)
        conn.sendall(
            f"<?xml version='1.0'?><stream:stream {STREAM_NS} from='sip.test' to='xmpp.test' id='s2s-0002' version='1.0'>"
            "<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls></stream:features>".encode()
        )
        conn.recv(65535)
        conn.sendall(b"<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
        conn.recv(65535)  # the ClientHello

    t = serve_once(5269, server)
    time.sleep(0.05)
    c = connect(5269, 40300)
    c.sendall(f"<?xml version='1.0'?><stream:stream {STREAM_NS} from='xmpp.test' to='sip.test' version='1.0'>".encode())
    time.sleep(0.02)
    c.sendall(b"<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
    time.sleep(0.02)
    c.sendall(client_hello())
    time.sleep(0.05)
    c.close()
    t.join()


def client_hello():
    """A TLS 1.2 ClientHello record (RFC 5246 §7.4.1.2), minimal."""
    body = b"\x03\x03" + bytes(range(32)) + b"\x00" + b"\x00\x02\xc0\x2f" + b"\x01\x00" + b"\x00\x00"
    hs = b"\x01" + len(body).to_bytes(3, "big") + body
    return b"\x16\x03\x01" + len(hs).to_bytes(2, "big") + hs


def sip_tls():
    def server(conn):
        conn.recv(65535)

    t = serve_once(5061, server)
    time.sleep(0.05)
    c = connect(5061, 40400)
    c.sendall(client_hello())
    time.sleep(0.05)
    c.close()
    t.join()


if __name__ == "__main__":
    for name in sys.argv[1:]:
        {
            "sip-udp": sip_udp,
            "sip-tcp": sip_tcp,
            "xmpp-s2s": xmpp_s2s,
            "xmpp-s2s-v6": lambda: xmpp_s2s(socket.AF_INET6, "::1"),
            "xmpp-starttls": xmpp_starttls,
            "sip-tls": sip_tls,
        }[name]()
        time.sleep(0.05)

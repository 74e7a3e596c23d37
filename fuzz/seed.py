#!/usr/bin/env python3
"""Seed the fuzz corpora from protocol-tests/ (and fuzz/regressions/): seed.py ROOT CORPUS_DIR.

Each target gets the inputs of its own shape: whole SIP messages, XMPP stanzas and streams,
the bodies carried inside SIP messages (split out by Content-Type, CPIM payloads unwrapped),
JIDs and SIP URIs found in both, and configuration files. Seeds are named by content hash,
so re-seeding never duplicates.
"""
import glob
import hashlib
import os
import re
import sys

root, out = sys.argv[1], sys.argv[2]
pt = os.path.join(root, "protocol-tests")
seeds = {}


def add(target, data):
    if isinstance(data, str):
        data = data.encode()
    if data:
        seeds.setdefault(target, {})[hashlib.sha1(data).hexdigest()] = data


def files(*patterns):
    for p in patterns:
        for f in sorted(glob.glob(os.path.join(root, p))):
            if os.path.isfile(f):
                with open(f, "rb") as fh:
                    yield fh.read()


def split_head(msg):
    """(headers as [(lower name, value)], body) of a SIP or MIME entity."""
    for sep in (b"\r\n\r\n", b"\n\n"):
        i = msg.find(sep)
        if i >= 0:
            head, body = msg[:i], msg[i + len(sep):]
            break
    else:
        return [], b""
    fields = []
    for line in re.split(rb"\r?\n", head):
        if b":" in line:
            n, v = line.split(b":", 1)
            fields.append((n.strip().lower(), v.strip()))
    return fields, body


def content_type(fields):
    for n, v in fields:
        if n in (b"content-type", b"c"):
            return v
    return None


def body_seeds(ct, body, depth=0):
    if ct is None or depth > 3:
        return
    t = ct.split(b";")[0].strip().lower()
    if t == b"application/pidf+xml":
        add("sip_body_pidf", body)
    elif t == b"application/im-iscomposing+xml":
        add("sip_body_is_composing", body)
    elif t == b"message/imdn+xml":
        add("sip_body_imdn", body)
    elif t == b"message/cpim":
        add("sip_body_cpim", body)
        _, rest = split_head(body)
        inner, payload = split_head(rest)
        body_seeds(content_type(inner), payload, depth + 1)
    elif t.startswith(b"multipart/"):
        add("sip_body_multipart", ct + b"\n" + body)


sip = list(
    files(
        "protocol-tests/sip/rfc4475/*.dat",
        "protocol-tests/sip/bench/*.sip",
        "protocol-tests/sip/*.sip",
        "protocol-tests/sip/fuzz/*",
        "protocol-tests/interwork/sip-to-xmpp/*.sip",
    )
)
stanzas = list(files("protocol-tests/interwork/xmpp-to-sip*/*.xml"))
streams = list(files("protocol-tests/xmpp/*.xml", "protocol-tests/xmpp/hostile/*.xml"))

for m in sip:
    add("sip_message", m)
    add("bridge_sip_to_xmpp", m)
    fields, body = split_head(m)
    body_seeds(content_type(fields), body)
    for n, v in fields:
        if n in (b"from", b"to", b"f", b"t", b"contact", b"m"):
            for uri in re.findall(rb"<([^>]*)>", v):
                add("jid", uri)
for s in stanzas:
    add("bridge_xmpp_to_sip", s)
    add("xmpp_stream", s)
for s in streams:
    add("xmpp_stream", s)
for x in stanzas + streams:
    for jid in re.findall(rb"""(?:from|to|jid)=['"]([^'"]*)['"]""", x):
        add("jid", jid)
for c in files(
    "examples/*.toml", "protocol-tests/configs/*.toml", "protocol-tests/interop/*.toml.in"
):
    add("config", c)

# Inputs that once failed, kept as seeds per target.
for d in sorted(glob.glob(os.path.join(root, "fuzz", "regressions", "*"))):
    for data in files(os.path.relpath(d, root) + "/*"):
        add(os.path.basename(d), data)

targets = sys.argv[3:] or sorted(seeds)
for t in targets:
    d = os.path.join(out, t)
    os.makedirs(d, exist_ok=True)
    for h, data in seeds.get(t, {}).items():
        p = os.path.join(d, "seed-" + h)
        if not os.path.exists(p):
            with open(p, "wb") as fh:
                fh.write(data)
    print(f"{t}: {len(seeds.get(t, {}))} seeds")

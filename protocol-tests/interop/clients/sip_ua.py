#!/usr/bin/env python3
"""Scripted SIP UA (pjsua2, PyPI pjsua2-python) for the interop suite.

Registers over TLS at a proxy (mutual TLS: it presents --cert/--key when asked), prints
``READY <aor>``, then:

  --send URI --body TEXT   send one SIP MESSAGE (text/plain;charset=UTF-8) and wait for its
                           final response
  --expect-error           with --send: success is an error final response (>= 400) instead
  --expect-body TEXT       wait for an incoming MESSAGE with exactly this body
  --expect-from URI        ... and from this URI (optional; compared without display name,
                           angle brackets and parameters)
  --no-register            do not register: READY at once, requests go straight to --proxy
                           (to reach a next hop without the registrar in between)

Machine-checkable output, one line per event (bodies are printed as they are, UTF-8):

  READY <aor>
  SENT to=<uri> status=<code> reason=<reason phrase>
  RECV from=<uri> to=<uri> body=<text>
  RECV-DETAIL from=<From header value> to=<To header value> content_type=<...> call_id=<...>
  FAIL <reason>

Exit 0 when what was asked for happened (for --send: a 2xx final response, or with
--expect-error a final response >= 400), 1 otherwise.
Always bounded by --timeout seconds. No audio device is used (null sound device).
--log-file keeps the pjsip log, SIP messages included.
"""
import argparse
import re
import sys
import time

import pjsua2 as pj

from pj_setup import account_config, start_endpoint

STATE = {"registered": False, "reg_code": None, "sent": None, "recv": False}


def one_line(text):
    """Keep each event on one line: escape line breaks (the suite's bodies have none)."""
    return (text or "").replace("\\", "\\\\").replace("\r", "\\r").replace("\n", "\\n")


def bare_uri(value):
    """'"Juliet" <sip:juliet@xmpp.test;transport=tls>;tag=x' -> 'sip:juliet@xmpp.test'."""
    v = value.strip()
    if "<" in v and ">" in v:
        v = v[v.index("<") + 1:v.index(">")]
    return re.split(r"[;?]", v, maxsplit=1)[0].strip()


def header(raw, *names):
    """First value of a header (full or compact name) in a raw SIP message, or ''."""
    for line in (raw or "").split("\r\n")[1:]:
        if not line:
            break
        name, _, value = line.partition(":")
        if name.strip().lower() in names:
            return value.strip()
    return ""


class Acc(pj.Account):
    def __init__(self, a):
        super().__init__()
        self.a = a

    def onRegState(self, prm):
        info = self.getInfo()
        STATE["reg_code"] = prm.code
        if prm.code // 100 == 2 and info.regIsActive:
            STATE["registered"] = True

    def onInstantMessage(self, prm):
        raw = prm.rdata.wholeMsg
        frm, to = bare_uri(prm.fromUri), bare_uri(prm.toUri)
        print(f"RECV from={frm} to={to} body={one_line(prm.msgBody)}", flush=True)
        print(f"RECV-DETAIL from={prm.fromUri} to={prm.toUri} "
              f"content_type={header(raw, 'content-type', 'c') or prm.contentType} "
              f"call_id={header(raw, 'call-id', 'i')}", flush=True)
        if self.a.expect_body is not None and prm.msgBody == self.a.expect_body and (
                self.a.expect_from is None or frm == bare_uri(self.a.expect_from)):
            STATE["recv"] = True

    def onInstantMessageStatus(self, prm):
        print(f"SENT to={bare_uri(prm.toUri)} status={prm.code} reason={prm.reason}", flush=True)
        STATE["sent"] = prm.code


def main(a):
    ep = start_endpoint(a, a.port)
    acfg = account_config(a, register=not a.no_register)
    acfg.regConfig.timeoutSec = 300
    acc = Acc(a)
    acc.create(acfg)
    if a.no_register:
        STATE["registered"] = True

    deadline = time.time() + a.timeout
    ok = False
    buddies = []
    phase = "register"
    while time.time() < deadline:
        ep.libHandleEvents(50)
        if phase == "register" and STATE["reg_code"] is not None and not STATE["registered"] \
                and STATE["reg_code"] // 100 not in (1, 2):
            break
        if phase == "register" and STATE["registered"]:
            print(f"READY {a.id}", flush=True)
            if a.send:
                b = pj.Buddy()
                bc = pj.BuddyConfig()
                bc.uri = a.send
                bc.subscribe = False
                b.create(acc, bc)
                buddies.append(b)
                prm = pj.SendInstantMessageParam()
                prm.content = a.body
                prm.contentType = a.content_type
                b.sendInstantMessage(prm)
            phase = "work"
        if phase == "work":
            if a.send and STATE["sent"] is None:
                continue
            if a.expect_body is not None and not STATE["recv"]:
                continue
            ok = (not a.send) or (STATE["sent"] >= 400 if a.expect_error else 200 <= STATE["sent"] < 300)
            break
    if phase == "register":
        print(f"FAIL not registered (last REGISTER status {STATE['reg_code']})", flush=True)
    elif not ok:
        if a.send and STATE["sent"] is None:
            print(f"FAIL no final response to MESSAGE after {a.timeout:g}s", flush=True)
        elif a.send and (a.expect_error or not 200 <= STATE["sent"] < 300):
            print(f"FAIL MESSAGE answered {STATE['sent']}", flush=True)
        else:
            print(f"FAIL expected MESSAGE not received after {a.timeout:g}s", flush=True)
    # let the last transactions finish, then unregister and tear down (bounded)
    for _ in range(10):
        ep.libHandleEvents(20)
    del buddies
    acc.shutdown()
    for _ in range(10):
        ep.libHandleEvents(20)
    ep.libDestroy()
    return ok


if __name__ == "__main__":
    sys.stdout.reconfigure(encoding="utf-8", errors="backslashreplace")
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--id", required=True, help="address of record, e.g. sip:alice@sip.test")
    p.add_argument("--registrar", required=True, help="e.g. sip:sip.test;transport=tls")
    p.add_argument("--proxy", required=True, help="outbound proxy, e.g. sip:127.0.0.4:5061;transport=tls;lr")
    p.add_argument("--local-ip", required=True)
    p.add_argument("--port", type=int, default=0, help="TLS listening port (0: any)")
    p.add_argument("--ca", required=True)
    p.add_argument("--cert")
    p.add_argument("--key")
    p.add_argument("--send", metavar="URI")
    p.add_argument("--body", default="hello")
    p.add_argument("--content-type", default="text/plain;charset=UTF-8")
    p.add_argument("--expect-error", action="store_true")
    p.add_argument("--expect-body")
    p.add_argument("--expect-from", metavar="URI")
    p.add_argument("--timeout", type=float, default=20)
    p.add_argument("--log-file")
    p.add_argument("--no-register", action="store_true")
    sys.exit(0 if main(p.parse_args()) else 1)

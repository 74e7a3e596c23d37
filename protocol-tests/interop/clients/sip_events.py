#!/usr/bin/env python3
"""SIP side of the events scenario (pjsua2): RFC 3994 isComposing with pjsua's own typing
indications, RFC 5438 IMDN in CPIM (RFC 3862) written and read the way an IMDN-capable UA does.

Registers over TLS at the proxy, prints ``READY <aor>``, then with --peer:

  1. waits for the peer's typing indication (pjsua parses the isComposing body) and for its
     message asking for a delivery notification (CPIM with imdn.Message-ID and
     imdn.Disposition-Notification: positive-delivery);
  2. answers that message with an IMDN "delivered" naming its imdn.Message-ID;
  3. sends its own typing indication (pjsua's sendTypingIndication);
  4. sends a CPIM message --body with imdn.Message-ID --imdn-id asking for positive-delivery;
  5. waits for the IMDN about --imdn-id, and for any further MESSAGE (the peer's reaction, as
     its readable text).

Machine-checkable output:

  READY <aor>
  TYPING from=<uri> typing=<0|1>
  RECV from=<uri> content_type=<type> imdn_id=<id> dn=<disposition> body=<text>
  SENT what=<imdn|message> status=<code>
  SENT-TYPING to=<uri>
  RECEIPT id=<message-id> status=<delivered|displayed|...> from=<uri>
  FAIL <reason>

Exit 0 when every step happened; bounded by --timeout.
"""
import argparse
import re
import sys
import time

import pjsua2 as pj

from pj_setup import account_config, start_endpoint
from sip_ua import bare_uri, one_line

STATE = {"registered": False, "reg_code": None, "typing": False, "asked": None,
         "sent": {}, "receipt": False, "texts": []}
PENDING = []  # what the last sendInstantMessage was, in order


def cpim_parts(body):
    """(CPIM headers dict, inner headers text, inner body) of a message/cpim body."""
    head, _, rest = body.partition("\r\n\r\n")
    inner_head, _, inner = rest.partition("\r\n\r\n")
    headers = {}
    for line in head.split("\r\n"):
        name, _, value = line.partition(":")
        headers.setdefault(name.strip().lower(), value.strip())
    return headers, inner_head, inner


class Acc(pj.Account):
    def __init__(self, a):
        super().__init__()
        self.a = a

    def onRegState(self, prm):
        STATE["reg_code"] = prm.code
        if prm.code // 100 == 2 and self.getInfo().regIsActive:
            STATE["registered"] = True

    def onTypingIndication(self, prm):
        print(f"TYPING from={bare_uri(prm.fromUri)} typing={1 if prm.isTyping else 0}", flush=True)
        if prm.isTyping and bare_uri(prm.fromUri) == bare_uri(self.a.peer):
            STATE["typing"] = True

    def onInstantMessage(self, prm):
        ct = prm.contentType
        body = prm.msgBody
        if ct.lower().startswith("message/cpim"):
            h, inner_head, inner = cpim_parts(body)
            if "message/imdn+xml" in inner_head.lower():
                mid = re.search(r"<message-id>([^<]*)</message-id>", inner)
                status = re.search(r"<status>\s*<([a-z-]+)\s*/>", inner)
                mid = mid.group(1) if mid else ""
                status = status.group(1) if status else ""
                print(f"RECEIPT id={mid} status={status} from={bare_uri(prm.fromUri)}", flush=True)
                if mid == self.a.imdn_id and status == "delivered":
                    STATE["receipt"] = True
                return
            imdn_id = h.get("imdn.message-id", "")
            dn = h.get("imdn.disposition-notification", "")
            print(f"RECV from={bare_uri(prm.fromUri)} content_type={ct} imdn_id={imdn_id} "
                  f"dn={dn} body={one_line(inner)}", flush=True)
            if "positive-delivery" in dn and bare_uri(prm.fromUri) == bare_uri(self.a.peer):
                STATE["asked"] = imdn_id
            return
        print(f"RECV from={bare_uri(prm.fromUri)} content_type={ct} imdn_id= dn= "
              f"body={one_line(body)}", flush=True)
        STATE["texts"].append(body)

    def onInstantMessageStatus(self, prm):
        what = PENDING.pop(0) if PENDING else "?"
        print(f"SENT what={what} status={prm.code}", flush=True)
        STATE["sent"][what] = prm.code


def now():
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def send(buddy, what, content_type, content):
    prm = pj.SendInstantMessageParam()
    prm.contentType = content_type
    prm.content = content
    PENDING.append(what)
    buddy.sendInstantMessage(prm)


def main(a):
    ep = start_endpoint(a, 0)
    acfg = account_config(a)
    acfg.regConfig.timeoutSec = 300
    acc = Acc(a)
    acc.create(acfg)
    me, peer = bare_uri(a.id)[4:], bare_uri(a.peer)[4:]
    deadline = time.time() + a.timeout
    phase, buddy, ok = "register", None, False
    while time.time() < deadline:
        ep.libHandleEvents(50)
        if phase == "register":
            if STATE["registered"]:
                print(f"READY {a.id}", flush=True)
                buddy = pj.Buddy()
                bc = pj.BuddyConfig()
                bc.uri = a.peer
                bc.subscribe = False
                buddy.create(acc, bc)
                phase = "wait-peer"
            elif STATE["reg_code"] is not None and STATE["reg_code"] // 100 not in (1, 2):
                break
        elif phase == "wait-peer" and STATE["typing"] and STATE["asked"] is not None:
            notification = (
                f"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                f"<imdn xmlns=\"urn:ietf:params:xml:ns:imdn\">\n"
                f"  <message-id>{STATE['asked']}</message-id>\n"
                f"  <datetime>{now()}</datetime>\n"
                f"  <recipient-uri>im:{me}</recipient-uri>\n"
                f"  <delivery-notification><status><delivered/></status></delivery-notification>\n"
                f"</imdn>\n")
            send(buddy, "imdn", "message/cpim",
                 f"From: <im:{me}>\r\nTo: <im:{peer}>\r\nDateTime: {now()}\r\n"
                 f"NS: imdn <urn:ietf:params:imdn>\r\nimdn.Message-ID: {a.imdn_id}-n\r\n\r\n"
                 f"Content-Type: message/imdn+xml\r\nContent-Disposition: notification\r\n\r\n"
                 f"{notification}")
            tprm = pj.SendTypingIndicationParam()
            tprm.isTyping = True
            buddy.sendTypingIndication(tprm)
            print(f"SENT-TYPING to={bare_uri(a.peer)}", flush=True)
            send(buddy, "message", "message/cpim",
                 f"From: <im:{me}>\r\nTo: <im:{peer}>\r\nDateTime: {now()}\r\n"
                 f"NS: imdn <urn:ietf:params:imdn>\r\nimdn.Message-ID: {a.imdn_id}\r\n"
                 f"imdn.Disposition-Notification: positive-delivery\r\n\r\n"
                 f"Content-Type: text/plain;charset=UTF-8\r\n\r\n{a.body}")
            phase = "wait-receipt"
        elif phase == "wait-receipt" and STATE["receipt"] and len(STATE["sent"]) == 2:
            phase = "linger"
            linger_until = time.time() + a.linger
        elif phase == "linger" and (time.time() >= linger_until or STATE["texts"]):
            ok = all(200 <= c < 300 for c in STATE["sent"].values())
            break
    if not ok:
        print(f"FAIL phase={phase} typing={STATE['typing']} asked={STATE['asked']} "
              f"sent={STATE['sent']} receipt={STATE['receipt']}", flush=True)
    for _ in range(10):
        ep.libHandleEvents(20)
    del buddy
    acc.shutdown()
    for _ in range(10):
        ep.libHandleEvents(20)
    ep.libDestroy()
    return ok


if __name__ == "__main__":
    sys.stdout.reconfigure(encoding="utf-8", errors="backslashreplace")
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--id", required=True, help="address of record, e.g. sip:bob@sip.test")
    p.add_argument("--registrar", required=True)
    p.add_argument("--proxy", required=True)
    p.add_argument("--local-ip", required=True)
    p.add_argument("--ca", required=True)
    p.add_argument("--cert")
    p.add_argument("--key")
    p.add_argument("--peer", required=True, metavar="URI")
    p.add_argument("--body", required=True)
    p.add_argument("--imdn-id", required=True)
    p.add_argument("--linger", type=float, default=5, help="seconds to wait for a further MESSAGE")
    p.add_argument("--timeout", type=float, default=40)
    p.add_argument("--log-file")
    sys.exit(0 if main(p.parse_args()) else 1)

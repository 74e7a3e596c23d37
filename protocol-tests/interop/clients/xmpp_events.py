#!/usr/bin/env python3
"""XMPP side of the events scenario (slixmpp: XEP-0085 chat states, XEP-0184 receipts,
XEP-0444 reactions).

Logs in over c2s (STARTTLS, server certificate verified against the test CA), prints
``READY <full jid>``, then towards --peer:

  1. sends a standalone <composing/> chat state;
  2. a second later, a message with --body, stanza id --id and a receipt <request/>;
  3. waits for the peer's <composing/>, the peer's message (which slixmpp acknowledges with
     <received/> on its own: xep_0184 auto_ack), and the receipt for --id;
  4. reacts with 👍 to the peer's message (XEP-0444), then stays a moment so it leaves.

Machine-checkable output:

  READY <full jid>
  SENT-CHATSTATE to=<jid> state=composing
  SENT to=<jid> id=<id> receipt_requested=1 body=<text>
  CHATSTATE state=<state> from=<bare jid>
  RECV from=<bare jid> id=<id> receipt_requested=<0|1> body=<text>
  RECEIPT id=<id> from=<bare jid>
  SENT-REACTION to=<jid> to_id=<id>
  FAIL <reason>

Exit 0 when the chat state, the message and the receipt all arrived; bounded by --timeout.
"""
import argparse
import asyncio
import logging
import sys

import slixmpp


def one_line(text):
    return (text or "").replace("\\", "\\\\").replace("\r", "\\r").replace("\n", "\\n")


class Client(slixmpp.ClientXMPP):
    def __init__(self, a):
        super().__init__(a.jid, a.password)
        self.a = a
        self.ca_certs = a.ca
        for p in ("xep_0030", "xep_0085", "xep_0184", "xep_0444"):
            self.register_plugin(p)
        self.plugin["xep_0184"].auto_ack = True
        self.add_event_handler("session_start", self.start)
        self.add_event_handler("chatstate", self.on_chatstate)
        self.add_event_handler("message", self.on_message)
        self.add_event_handler("receipt_received", self.on_receipt)
        self.add_event_handler("failed_auth", lambda *_: self.fail("auth failed"))
        self.done = asyncio.get_event_loop().create_future()
        self.seen = {"chatstate": False, "message": None, "receipt": False}

    def fail(self, why):
        print(f"FAIL {why}", flush=True)
        if not self.done.done():
            self.done.set_result(False)

    def check(self):
        if self.seen["chatstate"] and self.seen["message"] and self.seen["receipt"]:
            if not self.done.done():
                self.done.set_result(True)

    async def start(self, _event):
        self.send_presence()
        await self.get_roster()
        print(f"READY {self.boundjid.full}", flush=True)
        typing = self.make_message(mto=self.a.peer, mtype="chat")
        typing["chat_state"] = "composing"
        typing.send()
        print(f"SENT-CHATSTATE to={self.a.peer} state=composing", flush=True)
        await asyncio.sleep(1.0)
        msg = self.make_message(mto=self.a.peer, mbody=self.a.body, mtype="chat")
        msg["id"] = self.a.id
        msg["request_receipt"] = True
        msg.send()
        print(f"SENT to={self.a.peer} id={self.a.id} receipt_requested=1 "
              f"body={one_line(self.a.body)}", flush=True)

    def on_chatstate(self, msg):
        state = msg["chat_state"]
        print(f"CHATSTATE state={state} from={msg['from'].bare}", flush=True)
        if state == "composing" and msg["from"].bare == self.a.peer:
            self.seen["chatstate"] = True
            self.check()

    def on_message(self, msg):
        if msg["type"] == "error":
            err = msg["error"]
            print(f"ERROR from={msg['from'].bare} id={msg['id']} condition={err['condition']} "
                  f"text={one_line(err['text'])}", flush=True)
            return
        if not msg["body"]:
            return
        requested = 1 if msg["request_receipt"] else 0
        print(f"RECV from={msg['from'].bare} id={msg['id']} receipt_requested={requested} "
              f"body={one_line(msg['body'])}", flush=True)
        if msg["from"].bare == self.a.peer:
            self.seen["message"] = msg
            self.check()

    def on_receipt(self, msg):
        rid = msg["receipt"]
        print(f"RECEIPT id={rid} from={msg['from'].bare}", flush=True)
        if rid == self.a.id and msg["from"].bare == self.a.peer:
            self.seen["receipt"] = True
            self.check()

    async def react(self):
        m = self.seen["message"]
        self.plugin["xep_0444"].send_reactions(m["from"], m["id"], ["👍"])
        print(f"SENT-REACTION to={m['from'].bare} to_id={m['id']}", flush=True)
        await asyncio.sleep(1.0)


async def main(a):
    c = Client(a)
    c.connect(host=a.server, port=a.port)
    try:
        ok = await asyncio.wait_for(c.done, a.timeout)
    except asyncio.TimeoutError:
        print(f"FAIL timeout after {a.timeout:g}s: seen chatstate={c.seen['chatstate']} "
              f"message={c.seen['message'] is not None} receipt={c.seen['receipt']}", flush=True)
        ok = False
    if ok:
        await c.react()
    c.disconnect()
    await asyncio.sleep(0.3)
    return ok


if __name__ == "__main__":
    sys.stdout.reconfigure(encoding="utf-8", errors="backslashreplace")
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--jid", required=True)
    p.add_argument("--password", default="pass")
    p.add_argument("--server", required=True, help="IP address of the c2s listener (no DNS is used)")
    p.add_argument("--port", type=int, default=5222)
    p.add_argument("--ca", required=True)
    p.add_argument("--peer", required=True, metavar="BARE_JID")
    p.add_argument("--body", required=True)
    p.add_argument("--id", required=True, help="stanza id of the message asking for a receipt")
    p.add_argument("--timeout", type=float, default=30)
    p.add_argument("-v", action="store_true", help="slixmpp debug log on stderr")
    a = p.parse_args()
    logging.basicConfig(level=logging.DEBUG if a.v else logging.ERROR, format="%(levelname)s %(message)s")
    sys.exit(0 if asyncio.run(main(a)) else 1)

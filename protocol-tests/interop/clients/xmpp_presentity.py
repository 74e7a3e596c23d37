#!/usr/bin/env python3
"""XMPP presentity (slixmpp) for the interop suite: logs in, prints ``READY <full jid>``,
waits for a subscription request from --approve JID, approves it after --delay seconds, then
publishes each --step ("show:status", show one of available/away/dnd/xa/chat/unavailable)
--delay seconds apart. One line per event:

  SUBSCRIBE from=<bare jid>
  APPROVED to=<bare jid>
  PRESENCE show=<show> status=<status>
  UNSUBSCRIBE from=<bare jid>

With --wait-unsubscribe it stays online after the steps until an ``unsubscribe`` from the
approved JID arrives (else exit 1 at --timeout).
  FAIL <reason>
"""
import argparse
import asyncio
import logging
import sys

import slixmpp


class Client(slixmpp.ClientXMPP):
    def __init__(self, a):
        super().__init__(a.jid, a.password)
        self.a = a
        self.ca_certs = a.ca
        self.roster.auto_authorize = None
        self.roster.auto_subscribe = False
        self.add_event_handler("session_start", self.start)
        self.add_event_handler("presence_subscribe", self.on_subscribe)
        self.add_event_handler("presence_unsubscribe", self.on_unsubscribe)
        self.subscribed = asyncio.get_event_loop().create_future()
        self.unsubscribed = asyncio.get_event_loop().create_future()

    async def start(self, _event):
        self.send_presence()
        await self.get_roster()
        print(f"READY {self.boundjid.full}", flush=True)

    def on_subscribe(self, pres):
        frm = pres["from"].bare
        print(f"SUBSCRIBE from={frm}", flush=True)
        if frm == self.a.approve and not self.subscribed.done():
            self.subscribed.set_result(frm)

    def on_unsubscribe(self, pres):
        frm = pres["from"].bare
        print(f"UNSUBSCRIBE from={frm}", flush=True)
        if frm == self.a.approve and not self.unsubscribed.done():
            self.unsubscribed.set_result(frm)


async def main(a):
    c = Client(a)
    c.connect(host=a.server, port=a.port)
    try:
        who = await asyncio.wait_for(c.subscribed, a.timeout)
    except asyncio.TimeoutError:
        print(f"FAIL no subscription request from {a.approve} after {a.timeout:g}s", flush=True)
        c.disconnect()
        return False
    await asyncio.sleep(a.delay)
    c.send_presence(pto=who, ptype="subscribed")
    print(f"APPROVED to={who}", flush=True)
    for step in a.step:
        await asyncio.sleep(a.delay)
        show, _, status = step.partition(":")
        if show == "unavailable":
            c.send_presence(ptype="unavailable", pstatus=status or None)
        elif show == "available":
            c.send_presence(pstatus=status or None)
        else:
            c.send_presence(pshow=show, pstatus=status or None)
        print(f"PRESENCE show={show} status={status}", flush=True)
    ok = True
    if a.wait_unsubscribe:
        try:
            await asyncio.wait_for(c.unsubscribed, a.timeout)
        except asyncio.TimeoutError:
            print(f"FAIL no unsubscribe from {a.approve} after {a.timeout:g}s", flush=True)
            ok = False
    await asyncio.sleep(a.delay)
    c.disconnect()
    await asyncio.sleep(0.3)
    return ok


if __name__ == "__main__":
    sys.stdout.reconfigure(encoding="utf-8", errors="backslashreplace")
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--jid", required=True)
    p.add_argument("--password", default="pass")
    p.add_argument("--server", required=True)
    p.add_argument("--port", type=int, default=5222)
    p.add_argument("--ca", required=True)
    p.add_argument("--approve", required=True, metavar="BARE_JID")
    p.add_argument("--step", action="append", default=[], metavar="SHOW:STATUS")
    p.add_argument("--delay", type=float, default=1.5)
    p.add_argument("--wait-unsubscribe", action="store_true")
    p.add_argument("--timeout", type=float, default=20)
    a = p.parse_args()
    logging.basicConfig(level=logging.ERROR)
    sys.exit(0 if asyncio.run(main(a)) else 1)

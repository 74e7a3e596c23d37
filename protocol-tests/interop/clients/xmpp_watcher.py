#!/usr/bin/env python3
"""XMPP watcher (slixmpp) for the interop suite: logs in, prints ``READY <full jid>``, sends
``<presence type='subscribe'>`` to --watch and prints what comes back from it, one line each:

  SUBSCRIBED from=<bare jid>
  UNSUBSCRIBED from=<bare jid>
  PRESENCE from=<bare jid> type=<available|unavailable> show=<show> status=<status>
  ERROR from=<bare jid> condition=<condition>
  FAIL <reason>

Stops when a PRESENCE line contains --until TEXT (exit 0), or at --timeout (exit 1). With
--unsubscribe it sends ``unsubscribe`` before leaving.
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
        self.add_event_handler("session_start", self.start)
        self.add_event_handler("presence", self.on_presence)
        self.done = asyncio.get_event_loop().create_future()

    async def start(self, _event):
        self.send_presence()
        await self.get_roster()
        print(f"READY {self.boundjid.full}", flush=True)
        self.send_presence(pto=self.a.watch, ptype="subscribe")

    def on_presence(self, p):
        frm = p["from"].bare
        if frm != self.a.watch:
            return
        t = p["type"]
        if t in ("subscribed", "unsubscribed"):
            print(f"{t.upper()} from={frm}", flush=True)
            return
        if t == "error":
            print(f"ERROR from={frm} condition={p['error']['condition']}", flush=True)
            return
        kind = "unavailable" if t == "unavailable" else "available"
        line = f"PRESENCE from={frm} type={kind} show={p['show'] or ''} status={p['status']}"
        print(line, flush=True)
        if self.a.until and self.a.until in line and not self.done.done():
            self.done.set_result(True)


async def main(a):
    c = Client(a)
    c.connect(host=a.server, port=a.port)
    try:
        ok = await asyncio.wait_for(c.done, a.timeout)
    except asyncio.TimeoutError:
        print(f"FAIL no presence with '{a.until}' after {a.timeout:g}s", flush=True)
        ok = False
    if a.unsubscribe:
        c.send_presence(pto=a.watch, ptype="unsubscribe")
        await asyncio.sleep(1)
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
    p.add_argument("--watch", required=True, metavar="BARE_JID")
    p.add_argument("--until", metavar="TEXT")
    p.add_argument("--unsubscribe", action="store_true")
    p.add_argument("--timeout", type=float, default=30)
    a = p.parse_args()
    logging.basicConfig(level=logging.ERROR)
    sys.exit(0 if asyncio.run(main(a)) else 1)

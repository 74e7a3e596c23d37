#!/usr/bin/env python3
"""Scripted XMPP client (slixmpp) for the interop suite.

Logs in over c2s (STARTTLS, server certificate verified against the test CA), prints
``READY <full jid>``, then:

  --send JID --body TEXT   send one <message type='chat'> to JID
  --expect-body TEXT       wait for a chat/normal message with exactly this body
  --expect-from JID        ... and from this bare JID (optional)
  --expect-error           wait for a <message type='error'> (a bounce) instead
  --hold-file PATH         once done, stay online until PATH exists (bounded by --timeout)
  --no-verify              accept any server certificate (for a server that deliberately has
                           no certificate for the client's domain)

Machine-checkable output, one line per event (bodies are printed as they are, UTF-8):

  READY <full jid>
  SENT to=<jid> id=<stanza id> body=<text>
  RECV type=<type> from=<bare jid> to=<bare jid> body=<text>
  RECV-DETAIL from=<full jid> to=<full jid> id=<id> thread=<thread> lang=<xml:lang>
  ERROR from=<bare jid> to=<bare jid> id=<id> type=<error type> condition=<condition> text=<text>
  FAIL <reason>

Exit 0 when what was asked for happened, 1 otherwise (timeout, failed login, unexpected bounce).
Always bounded by --timeout seconds.
"""
import argparse
import asyncio
import logging
import os
import ssl
import sys

import slixmpp


def one_line(text):
    """Keep each event on one line: escape line breaks (the suite's bodies have none)."""
    return (text or "").replace("\\", "\\\\").replace("\r", "\\r").replace("\n", "\\n")


class Client(slixmpp.ClientXMPP):
    def __init__(self, a):
        super().__init__(a.jid, a.password)
        self.a = a
        self.ca_certs = a.ca
        if a.no_verify:
            self.ca_certs = None
            self.ssl_context.check_hostname = False
            self.ssl_context.verify_mode = ssl.CERT_NONE
        self.register_plugin("xep_0030")
        self.register_plugin("xep_0199")
        # slixmpp's "message" event needs a <body/>: standalone chat states come as "chatstate".
        self.register_plugin("xep_0085")
        self.add_event_handler("chatstate", self.on_chatstate)
        self.add_event_handler("session_start", self.start)
        self.add_event_handler("message", self.on_message)
        self.add_event_handler("message_error", self.on_message)
        self.add_event_handler("failed_auth", lambda *_: self.fail("auth failed"))
        self.done = asyncio.get_event_loop().create_future()
        self.waiting = a.expect_body is not None or a.expect_error or a.expect_gone
        self.got_body = a.expect_body is None
        self.got_gone = not a.expect_gone

    def fail(self, why):
        print(f"FAIL {why}", flush=True)
        if not self.done.done():
            self.done.set_result(False)

    def finish(self):
        if not self.done.done():
            self.done.set_result(True)

    async def start(self, _event):
        self.send_presence()
        await self.get_roster()
        print(f"READY {self.boundjid.full}", flush=True)
        if self.a.send:
            msg = self.make_message(mto=self.a.send, mbody=self.a.body, mtype="chat")
            msg["id"] = self.a.id or msg["id"] or self.new_id()
            msg.send()
            print(f"SENT to={self.a.send} id={msg['id']} body={one_line(self.a.body)}", flush=True)
            if not self.waiting:
                await asyncio.sleep(0.5)  # let the stanza leave before the session closes
                self.finish()

    def on_chatstate(self, msg):
        frm, to = msg["from"], msg["to"]
        state = msg["chat_state"]
        print(f"CHATSTATE state={state} from={frm.bare} to={to.bare} thread={msg['thread']}",
              flush=True)
        if state == "gone" and (self.a.expect_from is None or frm.bare == self.a.expect_from):
            self.got_gone = True
            if self.got_body:
                self.finish()

    def on_message(self, msg):
        frm, to = msg["from"], msg["to"]
        if msg["type"] == "error":
            err = msg["error"]
            print(f"ERROR from={frm.bare} to={to.bare} id={msg['id']} type={err['type']} "
                  f"condition={err['condition']} text={one_line(err['text'])}", flush=True)
            if self.a.expect_error:
                self.finish()
            elif not self.a.hold_file:
                self.fail(f"unexpected error stanza: {err['condition']}")
            return
        if not msg["body"]:
            return
        print(f"RECV type={msg['type']} from={frm.bare} to={to.bare} body={one_line(msg['body'])}",
              flush=True)
        print(f"RECV-DETAIL from={frm.full} to={to.full} id={msg['id']} thread={msg['thread']} "
              f"lang={msg['lang']}", flush=True)
        if self.a.expect_body is None or self.a.expect_error:
            return
        if msg["body"] == self.a.expect_body and (
                self.a.expect_from is None or frm.bare == self.a.expect_from):
            self.got_body = True
            if self.a.reply:
                # Answer on the same thread (session-mode IM maps it to the SIP dialog).
                r = self.make_message(mto=frm.bare, mbody=self.a.reply, mtype="chat")
                r["thread"] = msg["thread"]
                r.send()
                print(f"REPLIED to={frm.bare} thread={msg['thread']} body={one_line(self.a.reply)}",
                      flush=True)
            if self.got_gone:
                self.finish()


async def main(a):
    c = Client(a)
    c.connect(host=a.server, port=a.port)
    loop = asyncio.get_event_loop()
    start = loop.time()
    try:
        ok = await asyncio.wait_for(c.done, a.timeout)
    except asyncio.TimeoutError:
        print(f"FAIL timeout after {a.timeout:g}s", flush=True)
        ok = False
    if ok and a.hold_file:
        # Stay online (and keep printing what arrives) until the harness creates this file.
        while loop.time() - start < a.timeout and not os.path.exists(a.hold_file):
            await asyncio.sleep(0.1)
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
    p.add_argument("--ca", required=True, help="CA file that verifies the server certificate")
    p.add_argument("--send", metavar="JID")
    p.add_argument("--body", default="hello")
    p.add_argument("--id", help="stanza id of the sent message (default: generated)")
    p.add_argument("--expect-body")
    p.add_argument("--expect-from", metavar="BARE_JID")
    p.add_argument("--expect-error", action="store_true")
    p.add_argument("--expect-gone", action="store_true",
                   help="also wait for a XEP-0085 <gone/> (from --expect-from, if given)")
    p.add_argument("--reply", metavar="TEXT", help="answer the expected message on its thread")
    p.add_argument("--hold-file")
    p.add_argument("--no-verify", action="store_true")
    p.add_argument("--timeout", type=float, default=20)
    p.add_argument("-v", action="store_true", help="slixmpp debug log on stderr")
    a = p.parse_args()
    logging.basicConfig(level=logging.DEBUG if a.v else logging.ERROR, format="%(levelname)s %(message)s")
    sys.exit(0 if asyncio.run(main(a)) else 1)

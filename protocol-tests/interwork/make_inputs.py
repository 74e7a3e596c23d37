#!/usr/bin/env python3
"""Writes the golden *inputs* of protocol-tests/interwork (SIP with exact Content-Length and CRLF).

Expected outputs are written by the runner (`PARLEY_BLESS=1 cargo test golden`) and reviewed
by hand before they are committed. A pair can also be added by hand: an input file plus its
expected `.out` (or `.refused`) file; this script is a convenience, not the source of truth.
"""
import os

HERE = os.path.dirname(os.path.abspath(__file__))
CID = "a84b4c76e66710@pc33.sip.example"


def sip(start, headers, body=b"", ct=None):
    if isinstance(body, str):
        body = body.encode()
    lines = [start]
    lines += headers
    if ct:
        lines.append("Content-Type: " + ct)
    lines.append("Content-Length: %d" % len(body))
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def via():
    return "Via: SIP/2.0/TLS proxy.sip.example:5061;branch=z9hG4bK776asdhds"


def message(body="Hello, Juliet.", ct="text/plain;charset=UTF-8", frm="<sip:romeo@sip.example>;tag=49583",
            ruri="sip:juliet@xmpp.example", to=None, extra=(), cid=CID):
    to = to or "<%s>" % ruri.split(";")[0]
    h = [via(), "Max-Forwards: 70", "From: " + frm, "To: " + to, "Call-ID: " + cid, "CSeq: 1 MESSAGE"]
    h += list(extra)
    return sip("MESSAGE %s SIP/2.0" % ruri, h, body, ct)


def crlf(s):
    return s.replace("\r\n", "\n").replace("\n", "\r\n")


def cpim(headers, payload, ct="text/plain;charset=UTF-8", content_extra=()):
    block = "\r\n".join(headers) + "\r\n\r\nContent-Type: " + ct + "\r\n"
    for e in content_extra:
        block += e + "\r\n"
    return block + "\r\n" + payload


CPIM_HEAD = ["From: <im:romeo@sip.example>", "To: <im:juliet@xmpp.example>", "DateTime: 2024-05-01T10:00:00Z"]
IMDN_NS = "NS: imdn <urn:ietf:params:imdn>"


def imdn_doc(kind, status, mid="xmpp-42"):
    return crlf(f"""<?xml version="1.0" encoding="UTF-8"?>
<imdn xmlns="urn:ietf:params:xml:ns:imdn">
  <message-id>{mid}</message-id>
  <datetime>2024-05-01T09:59:00Z</datetime>
  <recipient-uri>im:romeo@sip.example</recipient-uri>
  <{kind}>
    <status><{status}/></status>
  </{kind}>
</imdn>
""")


def composing(state, refresh=None):
    r = f"\n  <refresh>{refresh}</refresh>" if refresh else ""
    return crlf(f"""<?xml version="1.0" encoding="UTF-8"?>
<isComposing xmlns="urn:ietf:params:xml:ns:im-iscomposing">
  <state>{state}</state>
  <contenttype>text/plain</contenttype>{r}
</isComposing>
""")


def pidf(tuples, person=""):
    return crlf(f"""<?xml version="1.0" encoding="UTF-8"?>
<presence xmlns="urn:ietf:params:xml:ns:pidf" xmlns:dm="urn:ietf:params:xml:ns:pidf:data-model" xmlns:rpid="urn:ietf:params:xml:ns:pidf:rpid" entity="pres:romeo@sip.example">
{tuples}{person}</presence>
""")


def tuple_(tid, basic, note=""):
    return f"""  <tuple id="{tid}">
    <status><basic>{basic}</basic></status>{note}
  </tuple>
"""


def person(acts="", note=""):
    a = f"\n    <rpid:activities>{acts}</rpid:activities>" if acts else ""
    return f"""  <dm:person id="p1">{a}{note}
  </dm:person>
"""


def subscribe(extra=(), to="<sip:juliet@xmpp.example>", frm="<sip:romeo@sip.example>;tag=8721"):
    h = [via(), "Max-Forwards: 70", "From: " + frm, "To: " + to, "Call-ID: sub-1@pc33.sip.example",
         "CSeq: 1 SUBSCRIBE", "Contact: <sip:romeo@pc33.sip.example;transport=tls>"]
    h += list(extra)
    return sip("SUBSCRIBE sip:juliet@xmpp.example SIP/2.0", h)


def notify(state, body=b"", ct="application/pidf+xml", event="presence"):
    h = [via(), "Max-Forwards: 70", "From: <sip:romeo@sip.example>;tag=ffd2",
         "To: <sip:juliet@xmpp.example>;tag=xfg9", "Call-ID: sub-2@gateway.invalid", "CSeq: 2 NOTIFY",
         "Contact: <sip:romeo@pc33.sip.example;transport=tls>", "Event: " + event,
         "Subscription-State: " + state]
    return sip("NOTIFY sip:gateway.invalid;transport=tls SIP/2.0", h, body, ct if body else None)


def response(code, reason, method="MESSAGE"):
    h = ["Via: SIP/2.0/TLS gateway.invalid:5061;branch=z9hG4bK-parley-1;received=192.0.2.4",
         "From: <sip:juliet@xmpp.example>;tag=parley-tag-1", "To: <sip:romeo@sip.example>;tag=314159",
         "Call-ID: parley-call-1@gateway.invalid", "CSeq: 1 " + method]
    return sip("SIP/2.0 %d %s" % (code, reason), h)


S = {}
# --- addresses (RFC 7247 §5) ---
S["rfc7247-5-addr-plain"] = message()
S["rfc7247-5-addr-percent-space"] = message(frm="<sip:romeo%20montague@sip.example>;tag=1")
S["rfc7247-5-addr-apostrophe"] = message(frm="<sip:o'hara@sip.example>;tag=1")
S["rfc7247-5-addr-uppercase-user"] = message(frm="<sip:Romeo@SIP.Example>;tag=1")
S["rfc7247-5-addr-sips-port-params"] = message(frm="<sips:romeo@sip.example:5061;transport=tls>;tag=1")
S["rfc7247-5-addr-gruu-from"] = message(frm="<sip:romeo@sip.example;gr=urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6>;tag=1")
S["rfc7247-5-addr-gruu-request-uri"] = message(ruri="sip:juliet@xmpp.example;gr=balcony")
S["rfc7247-5-addr-tel-from-refused"] = message(frm="<tel:+15551234567>;tag=1")
S["rfc7247-5-addr-tel-request-uri-refused"] = message(ruri="tel:+15551234567", to="<tel:+15551234567>")
S["rfc7247-5-addr-ip-host-refused"] = message(frm="<sip:romeo@192.0.2.7>;tag=1")
S["rfc7247-5-addr-escaped-at"] = message(frm="<sip:romeo%40home@sip.example>;tag=1")
S["rfc7247-5-addr-utf8-user"] = message(frm="<sip:ren%C3%A9e@sip.example>;tag=1")
S["xep0172-display-name"] = message(frm='"Romeo Montague" <sip:romeo@sip.example>;tag=1')
S["xep0172-display-name-escaped"] = message(frm='"Romeo \\"R\\" M." <sip:romeo@sip.example>;tag=1')
S["rfc7247-5-addr-no-user-refused"] = message(frm="<sip:sip.example>;tag=1")
# --- messages (RFC 7572 §4-5) ---
S["rfc7572-4-msg-plain"] = message()
S["rfc7572-4-msg-no-content-type"] = message(ct=None)
S["rfc7572-4-msg-subject"] = message(extra=["Subject: Balcony"])
S["rfc7572-4-msg-content-language"] = message(body="Bonjour, Juliette.", extra=["Content-Language: fr"])
S["rfc7572-4-msg-subject-and-language"] = message(body="Hallo", extra=["Subject: Gruß", "Content-Language: de"])
S["rfc7572-4-msg-utf8"] = message(body="héllo 👋 — Привет, 你好")
S["rfc7572-4-msg-xml-specials"] = message(body="a < b && c > d 'q' \"dq\" ]]>")
S["rfc7572-4-msg-multiline"] = message(body="line one\r\nline two\n\nline four")
S["rfc7572-4-msg-long-body"] = message(body=("All the world's a stage. " * 340).strip())
S["rfc7572-4-msg-empty-body-refused"] = message(body="")
S["rfc7572-4-msg-whitespace-body-refused"] = message(body="   \r\n ")
S["rfc7572-4-msg-latin1-charset-refused"] = message(body="caf\xe9".encode("latin-1"), ct="text/plain;charset=ISO-8859-1")
S["rfc7572-4-msg-invalid-utf8-refused"] = message(body=b"bad \xff\xfe bytes")
S["rfc7572-4-msg-image-refused"] = message(body=b"\x89PNG\r\n", ct="image/png")
S["rfc7572-4-msg-us-ascii"] = message(ct="text/plain;charset=us-ascii")
S["rfc7572-4-msg-quoted-charset"] = message(ct='text/plain; charset="utf-8"')
S["rfc7572-4-msg-call-id-thread"] = message(cid="7a9f-2c1b-4410-88aa-0f35c2d8e1e0@client.sip.example")
S["rfc3261-7.3.3-msg-compact-headers"] = sip("MESSAGE sip:juliet@xmpp.example SIP/2.0",
    ["v: SIP/2.0/TLS proxy.sip.example:5061;branch=z9hG4bK776asdhds", "Max-Forwards: 70",
     "f: <sip:romeo@sip.example>;tag=49583", "t: <sip:juliet@xmpp.example>", "i: " + CID, "CSeq: 1 MESSAGE",
     "s: compact", "c: text/plain"], "compact form")
# --- rich text (XEP-0071 ⇄ text/html) ---
S["xep0071-html-simple"] = message(body="<p>Hello <b>Juliet</b>, <i>my</i> love</p>", ct="text/html;charset=UTF-8")
S["xep0071-html-document-script-stripped"] = message(ct="text/html",
    body="<!DOCTYPE html><html><head><title>t</title><script>alert(1)</script><style>p{color:red}</style></head>"
         "<body onload='x()'><p style='color:red'>Safe <strong>text</strong></p><script>evil()</script></body></html>")
S["xep0071-html-links"] = message(ct="text/html",
    body='See <a href="https://verona.example/map">the map</a> and <a href="javascript:alert(1)">this</a>.')
S["xep0071-html-lists"] = message(ct="text/html", body="<ul><li>one</li><li>two</li></ul><ol><li>first</li></ol>")
S["xep0071-html-unclosed-tags"] = message(ct="text/html", body="<p><em>open <strong>nested</p>tail<br>next")
S["xep0071-html-entities"] = message(ct="text/html", body="caf&eacute; &amp; cr&#232;me &lt;3 &#x1F600;&nbsp;ok")
S["xep0071-html-empty-refused"] = message(ct="text/html", body="<p> </p><script>only()</script>")
# --- multipart ---
MP = "--b1\r\nContent-Type: text/plain;charset=UTF-8\r\n\r\nHello *Juliet*\r\n--b1\r\nContent-Type: text/html;charset=UTF-8\r\n\r\n<p>Hello <b>Juliet</b></p>\r\n--b1--\r\n"
S["rfc2046-5.1.4-multipart-alternative"] = message(body=MP, ct="multipart/alternative;boundary=b1")
S["rfc2046-5.1.4-multipart-two-languages"] = message(ct="multipart/alternative;boundary=b2",
    body="--b2\r\nContent-Type: text/plain\r\nContent-Language: en\r\n\r\nGood night\r\n--b2\r\nContent-Type: text/plain\r\nContent-Language: it\r\n\r\nBuona notte\r\n--b2--\r\n")
S["rfc2046-5.1.4-multipart-html-only"] = message(ct="multipart/alternative;boundary=b3",
    body="--b3\r\nContent-Type: text/html\r\n\r\n<p>only <em>html</em></p>\r\n--b3--\r\n")
S["rfc2046-5.1.3-multipart-mixed-image-ignored"] = message(ct="multipart/mixed;boundary=b4",
    body="--b4\r\nContent-Type: text/plain\r\n\r\nphoto attached\r\n--b4\r\nContent-Type: image/png\r\n\r\n\x89PNG\r\n--b4--\r\n".encode("latin-1"))
S["rfc2046-5.1.1-multipart-bad-boundary-refused"] = message(ct="multipart/alternative;boundary=zz", body=MP)
S["rfc2046-5.1.1-multipart-quoted-boundary"] = message(ct='multipart/alternative; boundary="b1"', body=MP)
S["rfc2046-5.1.4-multipart-only-image-refused"] = message(ct="multipart/mixed;boundary=b5",
    body="--b5\r\nContent-Type: image/png\r\n\r\nPNG\r\n--b5--\r\n")
# --- CPIM (RFC 3862) with and without IMDN (RFC 5438) ---
S["rfc3862-cpim-plain"] = message(ct="message/cpim", body=cpim(CPIM_HEAD, "Hello from CPIM"))
S["rfc5438-6-cpim-imdn-positive-delivery"] = message(ct="message/cpim", body=cpim(CPIM_HEAD + [IMDN_NS,
    "imdn.Message-ID: 34jk324j", "imdn.Disposition-Notification: positive-delivery"], "Please confirm"))
S["rfc5438-6-cpim-imdn-display"] = message(ct="message/cpim", body=cpim(CPIM_HEAD + [IMDN_NS,
    "imdn.Message-ID: 34jk324k", "imdn.Disposition-Notification: display"], "Tell me when you read it"))
S["rfc5438-6-cpim-imdn-delivery-and-display"] = message(ct="message/cpim", body=cpim(CPIM_HEAD + [IMDN_NS,
    "imdn.Message-ID: 34jk324l", "imdn.Disposition-Notification: positive-delivery, display"], "Both"))
S["rfc5438-6-cpim-imdn-negative-only"] = message(ct="message/cpim", body=cpim(CPIM_HEAD + [IMDN_NS,
    "imdn.Message-ID: 34jk324m", "imdn.Disposition-Notification: negative-delivery"], "Only failures"))
S["rfc3862-cpim-html-payload"] = message(ct="message/cpim", body=cpim(CPIM_HEAD, "<p>rich <em>cpim</em></p>", ct="text/html"))
S["rfc3862-cpim-multipart-payload"] = message(ct="message/cpim", body=cpim(CPIM_HEAD, MP, ct="multipart/alternative;boundary=b1"))
S["rfc3862-cpim-from-display-name"] = message(ct="message/cpim", body=cpim(
    ['From: "Romeo" <im:romeo@sip.example>', "To: <im:juliet@xmpp.example>", "DateTime: 2024-05-01T10:00:00Z"], "named"))
S["rfc3862-cpim-subject"] = message(ct="message/cpim", body=cpim(CPIM_HEAD + ["Subject: Tonight"], "At the ball"))
S["rfc3862-cpim-unknown-namespace-passthrough"] = message(ct="message/cpim", body=cpim(CPIM_HEAD + [
    "NS: mx <urn:example:mx>", "mx.Priority: high"], "with an unknown header"))
S["rfc3862-cpim-from-tel-refused"] = message(ct="message/cpim", body=cpim(["From: <tel:+15551234567>", "To: <im:juliet@xmpp.example>"], "x"))
S["rfc3862-cpim-malformed-refused"] = message(ct="message/cpim", body="From <im:romeo@sip.example>\r\nno blank line")
S["rfc3862-cpim-other-prefix"] = message(ct="message/cpim", body=cpim(CPIM_HEAD + ["NS: d <urn:ietf:params:imdn>",
    "d.Message-ID: pfx-1", "d.Disposition-Notification: positive-delivery"], "other prefix"))
S["rfc3862-cpim-sip-uri-from"] = message(ct="message/cpim", body=cpim(
    ["From: <sip:romeo@sip.example>", "To: <sip:juliet@xmpp.example>"], "sip URIs in CPIM"))
# --- chat states (RFC 3994 -> XEP-0085) ---
S["rfc3994-iscomposing-active"] = message(ct="application/im-iscomposing+xml", body=composing("active"))
S["rfc3994-iscomposing-idle"] = message(ct="application/im-iscomposing+xml", body=composing("idle"))
S["rfc3994-iscomposing-active-refresh"] = message(ct="application/im-iscomposing+xml", body=composing("active", 90))
S["rfc3994-iscomposing-bad-state-refused"] = message(ct="application/im-iscomposing+xml", body=composing("typing"))
# --- IMDN (RFC 5438 -> XEP-0184 / XEP-0333) ---
def imdn_msg(kind, status, mid="xmpp-42"):
    return message(ct="message/cpim", body=cpim(CPIM_HEAD + [IMDN_NS, "imdn.Message-ID: n-77"],
        imdn_doc(kind, status, mid), ct="message/imdn+xml", content_extra=["Content-Disposition: notification"]))
S["rfc5438-7-imdn-delivered"] = imdn_msg("delivery-notification", "delivered")
S["rfc5438-7-imdn-displayed"] = imdn_msg("display-notification", "displayed")
S["rfc5438-7-imdn-failed"] = imdn_msg("delivery-notification", "failed")
S["rfc5438-7-imdn-forbidden"] = imdn_msg("display-notification", "forbidden")
S["rfc5438-7-imdn-error"] = imdn_msg("delivery-notification", "error")
S["rfc5438-7-imdn-processed"] = imdn_msg("processing-notification", "processed")
S["rfc5438-7-imdn-bare"] = message(ct="message/imdn+xml", body=imdn_doc("delivery-notification", "delivered"))
S["rfc5438-7-imdn-percent-encoded-id"] = imdn_msg("delivery-notification", "delivered", "id%20with%20space")
# --- extensions as CPIM extension headers (SIP -> XMPP) ---
def ext_msg(headers, payload):
    return message(ct="message/cpim", body=cpim(CPIM_HEAD + headers, payload))
S["xep0444-cpim-reaction"] = ext_msg(["NS: react <urn:xmpp:reactions:0>", "react.Id: xmpp-42", "react.Emoji: 👍"], "reacted 👍 to an earlier message")
S["xep0444-cpim-reactions-multiple"] = ext_msg(["NS: react <urn:xmpp:reactions:0>", "react.Id: xmpp-42", "react.Emoji: 👍", "react.Emoji: 🐢"], "reacted")
S["xep0444-cpim-reaction-removed"] = ext_msg(["NS: react <urn:xmpp:reactions:0>", "react.Id: xmpp-42"], "removed their reaction")
S["xep0308-cpim-correction"] = ext_msg(["NS: correct <urn:xmpp:message-correct:0>", "correct.Replace: m-1"], "Hello, Juliet!")
S["xep0424-cpim-retraction"] = ext_msg(["NS: retract <urn:xmpp:message-retract:1>", "retract.Id: m-1"], "retracted")
S["xep0461-cpim-reply"] = ext_msg(["NS: reply <urn:xmpp:reply:0>", "reply.Id: xmpp-42", "reply.To: juliet@xmpp.example"], "Yes, at nine.")
S["xep0066-cpim-file-link"] = ext_msg(["NS: oob <jabber:x:oob>", "oob.Url: https://up.sip.example/f/balcony.jpg", "oob.Name: balcony.jpg", "oob.Size: 204800"], "📎 balcony.jpg\r\nhttps://up.sip.example/f/balcony.jpg")
S["xep0066-cpim-file-link-with-text"] = ext_msg(["NS: oob <jabber:x:oob>", "oob.Url: https://up.sip.example/f/plan.pdf", "oob.Desc: The plan"], "Read this first")
S["xep0249-cpim-invite"] = ext_msg(["NS: invite <jabber:x:conference>", "invite.Room: capulets@muc.xmpp.example", "invite.Reason: Party!"], "invites you")
# --- subscriptions (RFC 8048 §4, DESIGN presence table) ---
S["rfc8048-4-subscribe-new"] = subscribe(["Event: presence", "Accept: application/pidf+xml", "Expires: 3600"])
S["rfc8048-4-subscribe-display-name"] = subscribe(["Event: presence", "Expires: 3600"], frm='"Romeo" <sip:romeo@sip.example>;tag=8721')
S["rfc8048-4-subscribe-no-expires"] = subscribe(["Event: presence"])
S["rfc8048-4-subscribe-refresh"] = subscribe(["Event: presence", "Expires: 3600"], to="<sip:juliet@xmpp.example>;tag=gw1")
S["rfc6665-4.4.3-subscribe-fetch"] = subscribe(["Event: presence", "Expires: 0"])
S["rfc8048-4-subscribe-expiry-in-dialog"] = subscribe(["Event: presence", "Expires: 0"], to="<sip:juliet@xmpp.example>;tag=gw1")
S["rfc6665-8.3-subscribe-bad-event-refused"] = subscribe(["Event: dialog", "Expires: 3600"])
S["rfc6665-8.3-subscribe-no-event-refused"] = subscribe(["Expires: 3600"])
S["rfc8048-4-notify-pending"] = notify("pending;expires=3600")
S["rfc8048-4-notify-terminated-rejected"] = notify("terminated;reason=rejected")
S["rfc8048-4-notify-terminated-noresource"] = notify("terminated;reason=noresource")
S["rfc8048-4-notify-terminated-timeout"] = notify("terminated;reason=timeout")
S["rfc8048-4-notify-terminated-deactivated"] = notify("terminated;reason=deactivated")
S["rfc8048-4-notify-active-no-body"] = notify("active;expires=3600")
S["rfc6665-8.3-notify-bad-event-refused"] = notify("active;expires=3600", event="dialog")
# --- presence (RFC 8048 §5, PIDF/RPID) ---
def pnotify(tuples, per=""):
    return notify("active;expires=3600", pidf(tuples, per))
S["rfc8048-5-pidf-open"] = pnotify(tuple_("t1", "open"))
S["rfc8048-5-pidf-closed"] = pnotify(tuple_("t1", "closed"))
S["rfc4480-rpid-away"] = pnotify(tuple_("t1", "open"), person("<rpid:away/>"))
S["rfc4480-rpid-busy"] = pnotify(tuple_("t1", "open"), person("<rpid:busy/>"))
S["rfc4480-rpid-on-the-phone"] = pnotify(tuple_("t1", "open"), person("<rpid:on-the-phone/>"))
S["rfc4480-rpid-meeting"] = pnotify(tuple_("t1", "open"), person("<rpid:meeting/>"))
S["rfc4480-rpid-vacation"] = pnotify(tuple_("t1", "open"), person("<rpid:vacation/>"))
S["rfc4480-rpid-lunch"] = pnotify(tuple_("t1", "open"), person("<rpid:lunch/>"))
S["rfc4480-rpid-other-free-text"] = pnotify(tuple_("t1", "open"), person("<rpid:other>busy busy</rpid:other>"))
S["rfc4480-rpid-away-and-busy"] = pnotify(tuple_("t1", "open"), person("<rpid:away/><rpid:busy/>"))
S["rfc4480-rpid-closed-wins"] = pnotify(tuple_("t1", "closed"), person("<rpid:busy/>"))
S["rfc8048-5-pidf-note"] = pnotify(tuple_("t1", "open", "\n    <note>At the ball</note>"))
S["rfc8048-5-pidf-note-lang"] = pnotify(tuple_("t1", "open", '\n    <note xml:lang="it">Al ballo</note>'))
S["rfc8048-5-pidf-person-note"] = pnotify(tuple_("t1", "open"), person("<rpid:away/>", "\n    <dm:note>Back soon</dm:note>"))
S["rfc8048-5-pidf-two-tuples"] = pnotify(tuple_("pc", "open") + tuple_("phone", "closed"))
S["rfc8048-5-pidf-hex-tuple-id"] = pnotify(tuple_("rx77697468207370616365", "open"))
S["rfc8048-5-pidf-bad-body-refused"] = notify("active;expires=3600", b"<presence><oops>")
S["rfc8048-5-pidf-wrong-type-refused"] = notify("active;expires=3600", b"hello", ct="text/plain")
# --- errors, SIP -> XMPP (RFC 7247 §8.2), one per table row ---
CODES = [(302, "Moved Temporarily"), (400, "Bad Request"), (401, "Unauthorized"), (403, "Forbidden"),
         (404, "Not Found"), (405, "Method Not Allowed"), (406, "Not Acceptable"), (407, "Proxy Authentication Required"),
         (408, "Request Timeout"), (410, "Gone"), (413, "Request Entity Too Large"), (414, "Request-URI Too Long"),
         (415, "Unsupported Media Type"), (416, "Unsupported URI Scheme"), (480, "Temporarily Unavailable"),
         (481, "Call/Transaction Does Not Exist"), (484, "Address Incomplete"), (485, "Ambiguous"), (486, "Busy Here"),
         (488, "Not Acceptable Here"), (491, "Request Pending"), (500, "Server Internal Error"), (501, "Not Implemented"),
         (502, "Bad Gateway"), (503, "Service Unavailable"), (504, "Server Time-out"), (513, "Message Too Large"),
         (600, "Busy Everywhere"), (603, "Decline"), (604, "Does Not Exist Anywhere"), (606, "Not Acceptable")]
for code, reason in CODES:
    S[f"rfc7247-8.2-message-{code}"] = response(code, reason)
S["rfc7247-8.2-message-499-by-class"] = response(499, "Unknown Client Error")
S["rfc7247-8.2-subscribe-403"] = response(403, "Forbidden", "SUBSCRIBE")
S["rfc7247-8.2-subscribe-404"] = response(404, "Not Found", "SUBSCRIBE")
S["rfc7247-8.2-subscribe-489"] = response(489, "Bad Event", "SUBSCRIBE")
S["rfc7247-8.2-message-200-nothing"] = response(200, "OK")
S["rfc7247-8.2-message-202-nothing"] = response(202, "Accepted")
S["rfc7247-8.2-subscribe-202-nothing"] = response(202, "Accepted", "SUBSCRIBE")
S["rfc7247-8.2-invite-response-refused"] = response(486, "Busy Here", "INVITE")
S["rfc3261-invite-refused"] = sip("INVITE sip:juliet@xmpp.example SIP/2.0", [via(), "Max-Forwards: 70",
    "From: <sip:romeo@sip.example>;tag=1", "To: <sip:juliet@xmpp.example>", "Call-ID: inv-1@sip.example", "CSeq: 1 INVITE"])

d = os.path.join(HERE, "sip-to-xmpp")
os.makedirs(d, exist_ok=True)
for name, data in S.items():
    with open(os.path.join(d, name + ".sip"), "wb") as f:
        f.write(data)
print(len(S), "SIP inputs")

# ===================== XMPP inputs =====================
def msg(inner="<body>Art thou not Romeo?</body>", frm="juliet@xmpp.example/balcony", to="romeo@sip.example",
        typ="chat", id_="xmpp-42", extra=""):
    t = f" type='{typ}'" if typ else ""
    i = f" id='{id_}'" if id_ is not None else ""
    f_ = f" from='{frm}'" if frm is not None else ""
    return f"<message{f_} to='{to}'{i}{t}{extra}>{inner}</message>\n"


def pres(inner="", typ=None, frm="juliet@xmpp.example/balcony", to="romeo@sip.example", extra=""):
    t = f" type='{typ}'" if typ else ""
    if not inner:
        return f"<presence from='{frm}' to='{to}'{t}{extra}/>\n"
    return f"<presence from='{frm}' to='{to}'{t}{extra}>{inner}</presence>\n"


X = {}
# addresses
X["rfc7247-5-addr-plain"] = msg(frm="juliet@xmpp.example")
X["rfc7247-5-addr-resource-gruu"] = msg()
X["rfc7247-5-addr-escaped-local"] = msg(frm="juliet\\20capulet@xmpp.example")
X["rfc7247-5-addr-uppercase-folded"] = msg(frm="Juliet@XMPP.example/Balcony")
X["rfc7247-5-addr-no-localpart-refused"] = msg(frm="xmpp.example")
X["rfc7247-5-addr-resource-with-space"] = msg(frm="juliet@xmpp.example/my phone")
X["rfc7247-5-addr-escaped-apostrophe"] = msg(to="o\\27hara@sip.example")
X["rfc7247-5-addr-utf8-local"] = msg(frm="renée@xmpp.example")
# messages
X["rfc7572-5-msg-chat"] = msg()
X["rfc7572-5-msg-normal"] = msg(typ=None)
X["rfc7572-5-msg-subject"] = msg("<subject>Balcony</subject><body>Come up</body>")
X["rfc7572-5-msg-lang"] = msg("<body>Bonsoir</body>", extra=" xml:lang='fr'")
X["rfc7572-5-msg-body-lang"] = msg("<body xml:lang='it'>Buona sera</body>")
X["rfc7572-5-msg-thread"] = msg("<body>threaded</body><thread>e0ffe42b28561960c6b12b944a092794b9683a38</thread>")
X["rfc7572-5-msg-thread-not-call-id"] = msg("<body>odd thread</body><thread>has spaces in it</thread>")
X["rfc7572-5-msg-xml-escapes"] = msg("<body>a &lt; b &amp;&amp; c &gt; d 'q' \"dq\"</body>")
X["rfc7572-5-msg-utf8"] = msg("<body>héllo 👋 — Привет, 你好</body>")
X["rfc7572-5-msg-long-body"] = msg("<body>" + ("Parting is such sweet sorrow. " * 300).strip() + "</body>")
X["rfc6121-5.2.3-msg-multiple-languages"] = msg("<body>Good night</body><body xml:lang='it'>Buona notte</body><body xml:lang='de'>Gute Nacht</body>", extra=" xml:lang='en'")
X["rfc7572-5-msg-no-body-nothing"] = msg("<thread>t1</thread>")
X["rfc7572-5-msg-groupchat-refused"] = msg(typ="groupchat")
X["rfc7572-5-msg-headline-refused"] = msg(typ="headline")
X["rfc7572-5-msg-missing-from-refused"] = msg(frm=None)
X["xep0172-msg-nick"] = msg("<body>hi</body><nick xmlns='http://jabber.org/protocol/nick'>Juliet Capulet</nick>")
X["xep0203-msg-delay"] = msg("<body>late</body><delay xmlns='urn:xmpp:delay' stamp='2024-05-01T08:00:00Z'/>")
X["rfc7572-5-msg-unknown-extension"] = msg("<body>with extra</body><foo xmlns='urn:example:foo'>bar</foo>")
X["rfc7572-5-msg-subject-crlf"] = msg("<subject>line&#13;&#10;Via: injected</subject><body>x</body>")
X["rfc7572-5-msg-client-namespace"] = msg(extra=" xmlns='jabber:client'")
# rich
XH = "<html xmlns='http://jabber.org/protocol/xhtml-im'><body xmlns='http://www.w3.org/1999/xhtml'>{}</body></html>"
X["xep0071-xhtml-simple"] = msg("<body>Hello Romeo</body>" + XH.format("<p>Hello <strong>Romeo</strong></p>"))
X["xep0071-xhtml-links"] = msg("<body>the map</body>" + XH.format("<a href='https://verona.example/map'>the map</a>"))
X["xep0071-xhtml-style-stripped"] = msg("<body>red</body>" + XH.format("<p style='color:red'>red</p><img src='http://t.example/x.gif' alt='pixel'/>"))
X["xep0071-xhtml-and-receipt"] = msg("<body>rich receipt</body>" + XH.format("<em>rich</em> receipt") + "<request xmlns='urn:xmpp:receipts'/>")
# receipts
X["xep0184-request"] = msg("<body>Did you get this?</body><request xmlns='urn:xmpp:receipts'/>")
X["xep0333-markable"] = msg("<body>Read this</body><markable xmlns='urn:xmpp:chat-markers:0'/>")
X["xep0184-xep0333-request-and-markable"] = msg("<body>Both</body><request xmlns='urn:xmpp:receipts'/><markable xmlns='urn:xmpp:chat-markers:0'/>")
X["xep0184-received"] = msg("<received xmlns='urn:xmpp:receipts' id='34jk324j'/>", id_="r-1")
X["xep0333-received"] = msg("<received xmlns='urn:xmpp:chat-markers:0' id='34jk324j'/>", id_="r-2")
X["xep0333-displayed"] = msg("<displayed xmlns='urn:xmpp:chat-markers:0' id='34jk324k'/>", id_="r-3")
X["xep0333-acknowledged-nothing"] = msg("<acknowledged xmlns='urn:xmpp:chat-markers:0' id='34jk324k'/>", id_="r-4")
X["xep0184-request-non-token-id"] = msg("<body>odd id</body><request xmlns='urn:xmpp:receipts'/>", id_="id with space")
X["xep0184-received-and-active"] = msg("<received xmlns='urn:xmpp:receipts' id='34jk324j'/><active xmlns='http://jabber.org/protocol/chatstates'/>", id_="r-5")
# chat states
for st in ["composing", "paused", "active", "inactive", "gone"]:
    X[f"xep0085-{st}"] = msg(f"<{st} xmlns='http://jabber.org/protocol/chatstates'/><thread>e0ffe42b28561960c6b12b944a092794b9683a38</thread>")
X["xep0085-composing-with-body"] = msg("<body>done typing</body><active xmlns='http://jabber.org/protocol/chatstates'/>")
# extensions (fallback text with the default peer)
REACT = "<reactions xmlns='urn:xmpp:reactions:0' id='34jk324j'>{}</reactions>"
X["xep0444-reaction"] = msg(REACT.format("<reaction>👍</reaction>"))
X["xep0444-reactions-multiple"] = msg(REACT.format("<reaction>👍</reaction><reaction>🐢</reaction>"))
X["xep0444-reaction-removed"] = msg(REACT.format(""))
X["xep0308-correction"] = msg("<body>Art thou not Romeo, and a Montague?</body><replace xmlns='urn:xmpp:message-correct:0' id='xmpp-41'/>")
X["xep0424-retraction"] = msg("<retract xmlns='urn:xmpp:message-retract:1' id='xmpp-41'/><body>This person attempted to retract a previous message, but it's unsupported by your client.</body>")
X["xep0461-reply"] = msg("<body>&gt; At nine?\nYes, at nine.</body><reply xmlns='urn:xmpp:reply:0' to='romeo@sip.example' id='34jk324j'/>")
X["xep0066-file-link"] = msg("<body>https://up.xmpp.example/f/xyz/balcony.jpg</body><x xmlns='jabber:x:oob'><url>https://up.xmpp.example/f/xyz/balcony.jpg</url></x>")
X["xep0066-file-link-desc-and-text"] = msg("<body>Look at this</body><x xmlns='jabber:x:oob'><url>https://up.xmpp.example/f/plan%20v2.pdf</url><desc>The plan</desc></x>")
X["xep0249-invite"] = msg("<x xmlns='jabber:x:conference' jid='capulets@muc.xmpp.example' reason='Party!'/>", typ=None)
X["xep0249-invite-password"] = msg("<x xmlns='jabber:x:conference' jid='capulets@muc.xmpp.example' password='rose'/>", typ=None)
# presence
X["rfc8048-6-presence-available"] = pres()
X["rfc8048-6-presence-chat"] = pres("<show>chat</show>")
X["rfc8048-6-presence-away"] = pres("<show>away</show>")
X["rfc8048-6-presence-xa"] = pres("<show>xa</show>")
X["rfc8048-6-presence-dnd"] = pres("<show>dnd</show>")
X["rfc8048-6-presence-unavailable"] = pres(typ="unavailable")
X["rfc8048-6-presence-status"] = pres("<show>away</show><status>At the ball</status>")
X["rfc8048-6-presence-status-lang"] = pres("<status>Al ballo</status>", extra=" xml:lang='it'")
X["rfc8048-6-presence-priority-not-copied"] = pres("<priority>10</priority>")
X["rfc8048-6-presence-resource-not-an-id"] = pres(frm="juliet@xmpp.example/my phone")
X["rfc8048-6-presence-bare"] = pres(frm="juliet@xmpp.example")
X["rfc8048-4-subscribe"] = pres(typ="subscribe", frm="juliet@xmpp.example")
X["xep0172-subscribe-nick"] = pres("<nick xmlns='http://jabber.org/protocol/nick'>Juliet</nick>", typ="subscribe", frm="juliet@xmpp.example")
X["rfc8048-4-subscribed"] = pres(typ="subscribed", frm="juliet@xmpp.example")
X["rfc8048-4-unsubscribe"] = pres(typ="unsubscribe", frm="juliet@xmpp.example")
X["rfc8048-4-unsubscribed"] = pres(typ="unsubscribed", frm="juliet@xmpp.example")
X["rfc8048-4-probe"] = pres(typ="probe", frm="juliet@xmpp.example")
X["rfc8048-4-presence-error-not-found"] = pres("<error type='cancel'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error>", typ="error", frm="juliet@xmpp.example")
X["rfc8048-4-presence-error-forbidden"] = pres("<error type='auth'><forbidden xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error>", typ="error", frm="juliet@xmpp.example")
X["rfc6121-4.7.1-presence-bad-type-refused"] = pres(typ="bogus")
# errors XMPP -> SIP (RFC 7247 §8.1), one per condition
CONDS = ["bad-request", "conflict", "feature-not-implemented", "forbidden", "gone", "internal-server-error",
         "item-not-found", "jid-malformed", "not-acceptable", "not-allowed", "not-authorized", "policy-violation",
         "recipient-unavailable", "redirect", "registration-required", "remote-server-not-found",
         "remote-server-timeout", "resource-constraint", "service-unavailable", "subscription-required",
         "undefined-condition", "unexpected-request"]
for c in CONDS:
    X[f"rfc7247-8.1-error-{c}"] = msg(f"<error type='cancel'><{c} xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error>", typ="error", id_="parley-7")
X["rfc7247-8.1-error-text-as-reason"] = msg("<error type='cancel'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>No such user here</text></error>", typ="error", id_="parley-7")
X["rfc7247-8.1-error-long-text-default-reason"] = msg("<error type='cancel'><forbidden xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>" + "x" * 200 + "</text></error>", typ="error", id_="parley-7")
X["rfc7247-8.1-error-no-condition"] = msg("<error type='cancel'/>", typ="error", id_="parley-7")
X["rfc6120-iq-refused"] = "<iq from='juliet@xmpp.example/balcony' to='romeo@sip.example' id='q1' type='get'><ping xmlns='urn:xmpp:ping'/></iq>\n"
X["rfc6120-not-well-formed-refused"] = "<message from='juliet@xmpp.example' to='romeo@sip.example'><body>unclosed</message>\n"

def write_dir(name, items):
    d = os.path.join(HERE, name)
    os.makedirs(d, exist_ok=True)
    for k, v in items.items():
        with open(os.path.join(d, k + ".xml"), "w") as f:
            f.write(v)
    print(len(items), name)

write_dir("xmpp-to-sip", X)
# A peer without CPIM, IMDN, isComposing or HTML (RFC 3428 only).
write_dir("xmpp-to-sip-plain", {k: X[k] for k in [
    "xep0085-composing", "xep0184-request", "xep0184-received", "xep0071-xhtml-simple",
    "rfc6121-5.2.3-msg-multiple-languages", "xep0444-reaction", "xep0333-displayed", "xep0066-file-link"]})
# A peer that declared parley's CPIM extension headers.
write_dir("xmpp-to-sip-ext", {k: X[k] for k in [
    "xep0444-reaction", "xep0444-reactions-multiple", "xep0444-reaction-removed", "xep0308-correction",
    "xep0424-retraction", "xep0461-reply", "xep0066-file-link", "xep0066-file-link-desc-and-text",
    "xep0249-invite", "xep0184-request"]})

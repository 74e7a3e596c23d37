#!/usr/bin/env python3
"""SIP presence watcher (pjsua2) for the interop suite: registers like sip_ua.py, prints
``READY <aor>``, subscribes to --watch URI (RFC 3856 SUBSCRIBE, Event: presence) and prints
every change of the subscription and of the presence it sees, one line each:

  SUB state=<NULL|SENT|ACCEPTED|PENDING|ACTIVE|TERMINATED> code=<last code> reason=<reason>
  PRES sub=<state> status=<online|offline|unknown> activity=<none|away|busy|unknown> note=<text>
  FAIL <reason>

It stops when a PRES line contains --until TEXT (exit 0) or at --timeout (exit 1). With
--unsubscribe it then ends the subscription itself (SUBSCRIBE Expires: 0 in the dialog),
prints ``UNSUBSCRIBED``, and waits for the subscription to reach TERMINATED (else exit 1).
"""
import argparse
import sys
import time

import pjsua2 as pj

from pj_setup import account_config, start_endpoint

STATE = {"registered": False, "reg_code": None, "done": False, "terminated": False}
STATUS = {0: "unknown", 1: "online", 2: "offline"}
ACTIVITY = {0: "none", 1: "away", 2: "busy"}


class Acc(pj.Account):
    def onRegState(self, prm):
        STATE["reg_code"] = prm.code
        if prm.code // 100 == 2 and self.getInfo().regIsActive:
            STATE["registered"] = True


class Watch(pj.Buddy):
    def __init__(self, a):
        super().__init__()
        self.a = a

    def onBuddyEvSubState(self, prm):
        i = self.getInfo()
        print(f"SUB state={i.subStateName} code={i.subTermCode} reason={i.subTermReason}", flush=True)
        if i.subState == pj.PJSIP_EVSUB_STATE_TERMINATED:
            STATE["terminated"] = True

    def onBuddyState(self):
        i = self.getInfo()
        p = i.presStatus
        line = (f"PRES sub={i.subStateName} status={STATUS.get(p.status, p.status)} "
                f"activity={ACTIVITY.get(p.activity, p.activity)} note={p.note or p.statusText}")
        print(line, flush=True)
        if self.a.until and self.a.until in line:
            STATE["done"] = True


def main(a):
    ep = start_endpoint(a)
    acfg = account_config(a)
    acc = Acc()
    acc.create(acfg)
    deadline = time.time() + a.timeout
    watch = None
    while time.time() < deadline and not STATE["done"]:
        ep.libHandleEvents(50)
        if watch is None and STATE["registered"]:
            print(f"READY {a.id}", flush=True)
            watch = Watch(a)
            bc = pj.BuddyConfig()
            bc.uri = a.watch
            bc.subscribe = True
            watch.create(acc, bc)
        if watch is None and STATE["reg_code"] is not None and STATE["reg_code"] // 100 not in (1, 2):
            break
    ok = STATE["done"]
    if ok and a.unsubscribe:
        watch.subscribePresence(False)
        print("UNSUBSCRIBED", flush=True)
        end = time.time() + 10
        while time.time() < end and not STATE["terminated"]:
            ep.libHandleEvents(50)
        if not STATE["terminated"]:
            print("FAIL subscription not terminated 10s after unsubscribing", flush=True)
            ok = False
    if watch is None:
        print(f"FAIL not registered (last REGISTER status {STATE['reg_code']})", flush=True)
    elif not STATE["done"]:
        print(f"FAIL no presence with '{a.until}' after {a.timeout:g}s", flush=True)
    for _ in range(10):
        ep.libHandleEvents(20)
    del watch
    acc.shutdown()
    for _ in range(10):
        ep.libHandleEvents(20)
    ep.libDestroy()
    return ok


if __name__ == "__main__":
    sys.stdout.reconfigure(encoding="utf-8", errors="backslashreplace")
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--id", required=True)
    p.add_argument("--registrar", required=True)
    p.add_argument("--proxy", required=True)
    p.add_argument("--local-ip", required=True)
    p.add_argument("--ca", required=True)
    p.add_argument("--cert", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--watch", required=True, metavar="URI")
    p.add_argument("--until", metavar="TEXT")
    p.add_argument("--unsubscribe", action="store_true")
    p.add_argument("--timeout", type=float, default=30)
    p.add_argument("--log-file")
    sys.exit(0 if main(p.parse_args()) else 1)

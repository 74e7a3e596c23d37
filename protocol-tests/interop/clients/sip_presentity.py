#!/usr/bin/env python3
"""SIP presentity (pjsua2) for the interop suite: registers like sip_ua.py, prints
``READY <aor>``, accepts incoming presence subscriptions (printing ``SUBSCRIBED-BY from=<uri>``)
and, once one arrived, publishes each --step ("online:note", "away:note", "busy:note",
"offline:note") --delay seconds apart through its NOTIFYs (``STATUS step=<step>``).
Exit 0 when every step was published after a subscription, 1 at --timeout.
"""
import argparse
import sys
import time

import pjsua2 as pj

from pj_setup import account_config, start_endpoint

STATE = {"registered": False, "reg_code": None, "subscribed": False}


class Acc(pj.Account):
    def onRegState(self, prm):
        STATE["reg_code"] = prm.code
        if prm.code // 100 == 2 and self.getInfo().regIsActive:
            STATE["registered"] = True

    def onIncomingSubscribe(self, prm):
        print(f"SUBSCRIBED-BY from={prm.fromUri}", flush=True)
        prm.code = 200
        STATE["subscribed"] = True


def status_of(step):
    kind, _, note = step.partition(":")
    ps = pj.PresenceStatus()
    ps.status = pj.PJSUA_BUDDY_STATUS_OFFLINE if kind == "offline" else pj.PJSUA_BUDDY_STATUS_ONLINE
    ps.activity = {"away": pj.PJRPID_ACTIVITY_AWAY, "busy": pj.PJRPID_ACTIVITY_BUSY}.get(
        kind, pj.PJRPID_ACTIVITY_UNKNOWN)
    ps.note = note
    return ps


def main(a):
    ep = start_endpoint(a)
    acfg = account_config(a)
    acc = Acc()
    acc.create(acfg)
    deadline = time.time() + a.timeout
    ready = False
    steps = list(a.step)
    next_at = None
    while time.time() < deadline:
        ep.libHandleEvents(50)
        if not ready and STATE["registered"]:
            print(f"READY {a.id}", flush=True)
            ready = True
        if STATE["subscribed"] and next_at is None:
            next_at = time.time() + a.delay
        if next_at is not None and time.time() >= next_at:
            if not steps:
                # Stay registered a little longer: the watcher's unsubscribe comes last.
                if a.linger > 0:
                    next_at = time.time() + a.linger
                    a.linger = 0
                    continue
                break
            step = steps.pop(0)
            acc.setOnlineStatus(status_of(step))
            print(f"STATUS step={step}", flush=True)
            next_at = time.time() + a.delay
    ok = ready and STATE["subscribed"] and not steps
    if not ok:
        print("FAIL " + ("not registered" if not ready else
                         "no subscription arrived" if not STATE["subscribed"] else "timeout"), flush=True)
    for _ in range(20):
        ep.libHandleEvents(20)
    acc.shutdown()
    for _ in range(10):
        ep.libHandleEvents(20)
    ep.libDestroy()
    return ok


if __name__ == "__main__":
    sys.stdout.reconfigure(encoding="utf-8", errors="backslashreplace")
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    for opt in ("--id", "--registrar", "--proxy", "--local-ip", "--ca", "--cert", "--key"):
        p.add_argument(opt, required=True)
    p.add_argument("--step", action="append", default=[], metavar="KIND:NOTE")
    p.add_argument("--delay", type=float, default=1.5)
    p.add_argument("--linger", type=float, default=0, help="seconds to stay after the last step")
    p.add_argument("--timeout", type=float, default=30)
    p.add_argument("--log-file")
    sys.exit(0 if main(p.parse_args()) else 1)

#!/usr/bin/env python3
"""Check an audit log window: every line is a metadata-only record, the new lines are exactly
the expected crossing events, and no body text appears anywhere in the file.

usage: check_audit.py AUDIT_LOG SKIP_LINES BODIES_FILE EXPECT...
  SKIP_LINES   lines present before the window
  BODIES_FILE  one body per line: none may appear in the log (nor their words of 6+ chars)
  EXPECT       direction,type,from,to,outcome for each line expected in the window, in any order
               (window lines of other types, such as presence a client's login sends to its
               contacts, are checked for form and content but not counted)
Prints nothing and exits 0 when all is well; otherwise the problems, exit 1.
"""
import json
import re
import sys

KEYS = {"time", "session", "type", "from", "to", "source", "destination", "direction",
        "outcome", "bytes"}
OPTIONAL = {"reason"}
TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")


def main():
    path, skip, bodies_file, *expect = sys.argv[1:]
    text = open(path, encoding="utf-8").read()
    lines = text.splitlines()
    problems = []
    bodies = [b for b in open(bodies_file, encoding="utf-8").read().splitlines() if b]
    # Words that are also part of an address (user names) are metadata, not content.
    addresses = " ".join(re.findall(r'"(?:from|to|session)":"([^"]*)"', text))
    for b in bodies:
        if b in text:
            problems.append(f"body text in the audit log: {b!r}")
        for word in re.findall(r"\w{6,}", b):
            if word in text and word not in addresses:
                problems.append(f"word {word!r} of a body in the audit log")
    got = []
    types = {e.split(",")[1] for e in expect if e.count(",") >= 1}
    for n, line in enumerate(lines, 1):
        try:
            r = json.loads(line)
        except ValueError:
            problems.append(f"line {n} is not JSON: {line[:80]!r}")
            continue
        keys = set(r)
        if not KEYS <= keys or not keys <= KEYS | OPTIONAL:
            problems.append(f"line {n} keys {sorted(keys)}")
        if not TIME.match(str(r.get("time", ""))):
            problems.append(f"line {n} time {r.get('time')!r} is not RFC 3339 UTC")
        if not isinstance(r.get("bytes"), int):
            problems.append(f"line {n} bytes is not an integer")
        if n > int(skip) and r.get("type") in types:
            got.append(",".join(str(r.get(k)) for k in ("direction", "type", "from", "to", "outcome")))
    if sorted(got) != sorted(expect):
        problems.append(f"window has {got}, expected {expect}")
    for p in problems:
        print(p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env bash
# Bounded fuzz run of the XMPP codec only: fuzz/run_xmpp.sh [SECONDS] (default 60).
# Same as `fuzz/run-all.sh SECONDS xmpp_stream`; see run-all.sh.
exec "$(dirname "$0")/run-all.sh" "${1:-60}" xmpp_stream

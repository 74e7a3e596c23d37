#!/usr/bin/env bash
# Bounded fuzz run of the SIP codec only: fuzz/run.sh [SECONDS] (default 60).
# Same as `fuzz/run-all.sh SECONDS sip_message`; see run-all.sh.
exec "$(dirname "$0")/run-all.sh" "${1:-60}" sip_message

#!/bin/sh
# Record the replay fixtures on the loopback of a private network namespace (needs root,
# tcpdump and dumpcap from tshark). The traffic comes from traffic.py; only timestamps and
# TCP sequence numbers change between recordings, so the golden files are regenerated with
#   cargo run -- replay FILE > FILE.jsonl   (or the test's PARLEY_BLESS=1 mode).
set -eu
cd "$(dirname "$0")"

record() { # output, capture command, scenarios...
    out=$1 cmd=$2
    shift 2
    unshare --net sh -c "
        ip link set lo up
        $cmd -w $out.tmp >/dev/null 2>&1 &
        pid=\$!
        sleep 2
        python3 traffic.py $*
        sleep 1
        kill -INT \$pid
        wait \$pid || true
    "
    mv "$out.tmp" "$out"
    chmod 644 "$out"
}

# pcap, Ethernet, IPv4: SIP over UDP and TCP, a direct-TLS SIP connection.
record sip-udp-tcp.pcap "tcpdump -i lo -U -Z root" sip-udp sip-tcp sip-tls
# pcapng, Ethernet: an XMPP s2s stream with dialback, and one that turns to TLS after STARTTLS.
record xmpp-s2s.pcapng "dumpcap -i lo" xmpp-s2s xmpp-starttls
# pcap, Linux cooked capture v1, IPv6.
record xmpp-s2s-sll-v6.pcap "tcpdump -i any -y LINUX_SLL -U -Z root" xmpp-s2s-v6
# pcapng with two interfaces (lo: Ethernet, any: Linux cooked v2): every packet appears twice.
record multi-iface.pcapng "dumpcap -i lo -i any -y LINUX_SLL2" sip-tcp xmpp-s2s

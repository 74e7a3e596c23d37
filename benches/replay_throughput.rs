//! Replay throughput (issue 10): MB/s of capture through `parley replay --translate`
//! (file reading, link decoding, TCP reassembly, framing, typing, bridging, JSON lines).
//!
//! Input: a synthetic pcap of 40 TCP connections (20 SIP, 20 XMPP s2s) with 100 messages
//! each and 1,200-byte segments, plus 2,000 SIP datagrams; and the recorded fixtures.
//!
//! Run: `nice -n 10 cargo bench --bench replay_throughput`

use std::hint::black_box;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use criterion::{Criterion, Throughput};
use parley::replay::synth::{self, Link, TcpConversation};
use parley::replay::{self, ReplayOptions};

const SIP: &str = "MESSAGE sip:juliet@xmpp.test SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:40000;branch=z9hG4bK{n}\r\nMax-Forwards: 70\r\nFrom: <sip:romeo@sip.test>;tag=t{n}\r\nTo: <sip:juliet@xmpp.test>\r\nCall-ID: bench{n}@sip.test\r\nCSeq: {n} MESSAGE\r\nContent-Type: text/plain;charset=UTF-8\r\nContent-Length: 44\r\n\r\nA message of forty-four bytes in the body..";

fn sip(n: usize) -> String {
    SIP.replace("{n}", &n.to_string())
}

fn xmpp(n: usize) -> String {
    format!(
        "<message from='juliet@xmpp.test/balcony' to='romeo@sip.test' type='chat' id='m{n}'><body>A message of forty-four bytes in the body..</body><thread>t{n}</thread></message>"
    )
}

fn synthetic() -> Vec<u8> {
    let mut frames = Vec::new();
    let mut ts = 1_000_000_000u64;
    for c in 0..40u16 {
        let client: SocketAddr = format!("127.0.0.1:{}", 41000 + c).parse().unwrap();
        let server: SocketAddr = if c % 2 == 0 {
            "127.0.0.1:5060"
        } else {
            "127.0.0.1:5269"
        }
        .parse()
        .unwrap();
        let mut conv = TcpConversation::new(client, server, [u32::from(c) * 7919, 100]);
        conv.handshake(ts);
        let mut stream = String::new();
        if c % 2 == 1 {
            stream.push_str("<stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' from='xmpp.test' to='sip.test' version='1.0'>");
        }
        for i in 0..100 {
            stream.push_str(&if c % 2 == 0 { sip(i) } else { xmpp(i) });
        }
        conv.send(ts + 10_000, true, stream.as_bytes(), 1200);
        conv.close(ts + 20_000_000);
        frames.extend(
            conv.segments
                .iter()
                .map(|s| synth::tcp_frame(Link::Ethernet, 0, s)),
        );
        ts += 1_000_000;
    }
    let (a, b): (SocketAddr, SocketAddr) = (
        "127.0.0.1:5070".parse().unwrap(),
        "127.0.0.1:5060".parse().unwrap(),
    );
    for i in 0..2000 {
        frames.push(synth::udp_frame(
            Link::Ethernet,
            0,
            ts + i as u64 * 1000,
            a,
            b,
            sip(i).replace("TCP", "UDP").as_bytes(),
        ));
    }
    frames.sort_by_key(|f| f.ts_ns);
    synth::pcap(Link::Ethernet, &frames)
}

fn bench(c: &mut Criterion) {
    let dir = std::env::temp_dir().join(format!("parley-replay-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let synthetic_path = dir.join("synthetic.pcap");
    std::fs::write(&synthetic_path, synthetic()).unwrap();
    let fixtures: Vec<PathBuf> = [
        "sip-udp-tcp.pcap",
        "xmpp-s2s.pcapng",
        "xmpp-s2s-sll-v6.pcap",
        "multi-iface.pcapng",
    ]
    .iter()
    .map(|f| {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("protocol-tests/captures")
            .join(f)
    })
    .collect();
    let mut group = c.benchmark_group("replay_translate");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(5));
    for (name, paths) in [
        ("synthetic", vec![synthetic_path.clone()]),
        ("fixtures", fixtures),
    ] {
        let bytes: u64 = paths
            .iter()
            .map(|p| std::fs::metadata(p).unwrap().len())
            .sum();
        let mut opts = ReplayOptions::new(paths);
        opts.progress = false;
        group.throughput(Throughput::Bytes(bytes));
        group.bench_function(name, |b| {
            b.iter(|| black_box(replay::translate(&opts, &mut std::io::sink())))
        });
    }
    group.finish();
    let _ = std::fs::remove_dir_all(dir);
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    bench(&mut c);
    c.final_summary();
}

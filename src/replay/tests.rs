//! Replay over the recorded fixtures (golden files) and over synthetic captures with
//! reordered, duplicated and missing TCP segments and several interfaces.
//!
//! `PARLEY_BLESS=1 cargo test replay` rewrites the golden files.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::synth::{self, Link, TcpConversation};
use super::*;

fn captures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("protocol-tests/captures")
}

fn translate_paths(paths: Vec<PathBuf>) -> (u8, String) {
    let mut opts = ReplayOptions::new(paths);
    opts.progress = false;
    let mut out = Vec::new();
    let status = translate(&opts, &mut out);
    (status, String::from_utf8(out).unwrap())
}

fn translate_bytes(name: &str, bytes: &[u8]) -> (u8, String) {
    let dir = std::env::temp_dir().join(format!("parley-replay-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    let r = translate_paths(vec![path.clone()]);
    let _ = std::fs::remove_file(path);
    r
}

fn lines(out: &str) -> Vec<Value> {
    out.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn summary(out: &str) -> Value {
    lines(out).pop().unwrap()["summary"].clone()
}

/// Every fixture with its golden translation.
const FIXTURES: [&str; 4] = [
    "sip-udp-tcp.pcap",
    "xmpp-s2s.pcapng",
    "xmpp-s2s-sll-v6.pcap",
    "multi-iface.pcapng",
];

#[test]
fn golden_translations() {
    let bless = std::env::var_os("PARLEY_BLESS").is_some();
    for f in FIXTURES {
        let cap = captures_dir().join(f);
        let golden = captures_dir().join(format!("{f}.jsonl"));
        let (status, out) = translate_paths(vec![cap.clone()]);
        assert_eq!(status, EXIT_OK, "{f}");
        if bless {
            std::fs::write(&golden, &out).unwrap();
        }
        // The same through --check, as a lab would run it.
        let mut opts = ReplayOptions::new(vec![cap]);
        opts.progress = false;
        opts.mode = Mode::Check { golden };
        let mut report = Vec::new();
        let status = run(&opts, &mut report);
        let report = String::from_utf8_lossy(&report);
        assert_eq!(status, EXIT_OK, "{f}: {report}");
        assert!(report.starts_with("ok: "), "{report}");
    }
}

#[test]
fn check_reports_differences() {
    let dir = std::env::temp_dir().join(format!("parley-replay-check-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let golden = dir.join("golden.jsonl");
    let cap = captures_dir().join("sip-udp-tcp.pcap");
    let (_, out) = translate_paths(vec![cap.clone()]);
    std::fs::write(
        &golden,
        out.replacen("Hello from SIP", "Hello from XMPP", 1),
    )
    .unwrap();
    let mut opts = ReplayOptions::new(vec![cap]);
    opts.progress = false;
    opts.mode = Mode::Check {
        golden: golden.clone(),
    };
    let mut report = Vec::new();
    assert_eq!(run(&opts, &mut report), EXIT_DIFFERENCES);
    let report = String::from_utf8(report).unwrap();
    assert!(report.contains("-{") && report.contains("+{"), "{report}");
    assert!(report.contains("Hello from XMPP"), "{report}");
    opts.mode = Mode::Check {
        golden: dir.join("missing.jsonl"),
    };
    assert_eq!(run(&opts, &mut Vec::new()), EXIT_NOINPUT);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn sip_fixture_translates_both_ways_and_counts() {
    let (_, out) = translate_paths(vec![captures_dir().join("sip-udp-tcp.pcap")]);
    let l = lines(&out);
    let first = &l[0];
    assert_eq!(first["proto"], "sip");
    assert_eq!(first["sip"]["method"], "MESSAGE");
    assert_eq!(first["events"][0]["body"], "Hello from SIP");
    assert_eq!(first["events"][0]["subject"], "balcony");
    let stanza = first["translation"]["xmpp"].as_str().unwrap();
    assert!(stanza.starts_with("<message"), "{stanza}");
    assert!(stanza.contains("<body>Hello from SIP</body>"), "{stanza}");
    // text/html becomes XHTML-IM with a plain body.
    assert_eq!(l[2]["events"][0]["body"], "bold");
    assert!(
        l[2]["translation"]["xmpp"]
            .as_str()
            .unwrap()
            .contains("<html xmlns=")
    );
    // The 404 to a MESSAGE becomes an XMPP error to its sender.
    let err = l.iter().find(|v| v["sip"]["status"] == 404).unwrap();
    assert_eq!(err["events"][0]["condition"], "item-not-found");
    assert!(
        err["translation"]["xmpp"]
            .as_str()
            .unwrap()
            .contains("type='error'")
    );
    let s = summary(&out);
    assert_eq!(s["messages"]["sip"]["MESSAGE"], 6);
    assert_eq!(s["messages"]["sip"]["OPTIONS"], 2);
    assert_eq!(s["tls_streams"].as_array().unwrap().len(), 1);
    assert!(s["tls_streams"][0].as_str().unwrap().contains(":5061"));
}

#[test]
fn xmpp_fixture_translates_and_sees_starttls() {
    let (_, out) = translate_paths(vec![captures_dir().join("xmpp-s2s.pcapng")]);
    let l = lines(&out);
    let chat = l
        .iter()
        .find(|v| v["xmpp"]["message"]["id"] == "m1")
        .expect("m1");
    assert_eq!(chat["events"][0]["from"]["resource"], "balcony");
    let sip = chat["translation"]["sip"].as_str().unwrap();
    assert!(
        sip.starts_with("MESSAGE sip:romeo@sip.test SIP/2.0\r\n"),
        "{sip}"
    );
    let s = summary(&out);
    assert_eq!(s["messages"]["xmpp"]["stream:open"], 4);
    assert_eq!(s["messages"]["xmpp"]["proceed"], 1);
    assert_eq!(s["translated"]["xmpp→sip"], 6);
    // After <proceed/>, the ClientHello is reported as TLS, not as a parse failure.
    assert_eq!(s["tls_streams"].as_array().unwrap().len(), 1);
    assert!(s["parse_failures"].as_object().unwrap().is_empty(), "{s}");
}

#[test]
fn duplicate_interfaces_give_the_same_messages() {
    let (_, one) = translate_paths(vec![captures_dir().join("multi-iface.pcapng")]);
    let s = summary(&one);
    assert_eq!(s["packets_per_interface"].as_object().unwrap().len(), 2);
    assert_eq!(s["messages"]["sip"]["MESSAGE"], 3);
    assert_eq!(s["messages"]["xmpp"]["message:chat"], 4);
    assert!(s["duplicate_tcp_bytes"].as_u64().unwrap() > 0);
    assert!(s["gaps"].as_array().unwrap().is_empty());
}

const SIP_MSG: &str = "MESSAGE sip:juliet@xmpp.test SIP/2.0\r\nVia: SIP/2.0/TCP 10.0.0.1:40000;branch=z9hG4bKsyn1\r\nMax-Forwards: 70\r\nFrom: <sip:romeo@sip.test>;tag=1\r\nTo: <sip:juliet@xmpp.test>\r\nCall-ID: synth1@sip.test\r\nCSeq: 1 MESSAGE\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello";

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// Three SIP MESSAGEs over one connection, cut into 16-byte segments.
fn sip_conversation() -> TcpConversation {
    let mut c = TcpConversation::new(
        addr("127.0.0.1:40000"),
        addr("127.0.0.1:5060"),
        [1000, 9000],
    );
    c.handshake(1_000_000_000);
    let mut stream = Vec::new();
    for i in 1..=3 {
        stream.extend_from_slice(SIP_MSG.replace("synth1", &format!("synth{i}")).as_bytes());
    }
    c.send(1_001_000_000, true, &stream, 16);
    c.close(1_002_000_000);
    c
}

fn call_ids(out: &str) -> Vec<String> {
    lines(out)
        .iter()
        .filter_map(|v| v["sip"]["call_id"].as_str().map(str::to_owned))
        .collect()
}

fn write(link: Link, segs: &[synth::TcpSegment]) -> Vec<u8> {
    let frames: Vec<_> = segs.iter().map(|s| synth::tcp_frame(link, 0, s)).collect();
    synth::pcap(link, &frames)
}

#[test]
fn synthetic_in_order_on_every_link_type() {
    let c = sip_conversation();
    for link in [Link::Ethernet, Link::LinuxSll, Link::LinuxSll2, Link::Raw] {
        let (status, out) = translate_bytes("inorder.pcap", &write(link, &c.segments));
        assert_eq!(status, EXIT_OK);
        assert_eq!(
            call_ids(&out),
            ["synth1@sip.test", "synth2@sip.test", "synth3@sip.test"],
            "{link:?}"
        );
    }
}

#[test]
fn synthetic_reordered_and_duplicated() {
    let c = sip_conversation();
    let mut segs = c.segments.clone();
    // Swap neighbours pairwise after the handshake, and send every fifth segment twice.
    for i in (2..segs.len() - 3).step_by(2) {
        segs.swap(i, i + 1);
    }
    let dups: Vec<_> = segs.iter().step_by(5).cloned().collect();
    segs.extend(dups);
    let (_, out) = translate_bytes("reordered.pcap", &write(Link::Ethernet, &segs));
    assert_eq!(
        call_ids(&out),
        ["synth1@sip.test", "synth2@sip.test", "synth3@sip.test"]
    );
    let s = summary(&out);
    assert!(s["duplicate_tcp_bytes"].as_u64().unwrap() > 0);
    assert!(s["gaps"].as_array().unwrap().is_empty());
}

#[test]
fn synthetic_overlapping_segments() {
    let c = sip_conversation();
    let mut segs = Vec::new();
    for s in &c.segments {
        segs.push(s.clone());
        // A re-segmented retransmission: the second half of this segment plus the next bytes.
        if s.payload.len() == 16 {
            let mut o = s.clone();
            o.seq = o.seq.wrapping_add(8);
            o.payload = o.payload[8..].to_vec();
            segs.push(o);
        }
    }
    let (_, out) = translate_bytes("overlap.pcap", &write(Link::Raw, &segs));
    assert_eq!(call_ids(&out).len(), 3);
}

#[test]
fn synthetic_missing_segment_is_a_gap_and_resyncs() {
    let c = sip_conversation();
    let mut segs = c.segments.clone();
    // Drop a segment inside the first message's headers.
    segs.remove(4);
    let (_, out) = translate_bytes("missing.pcap", &write(Link::Ethernet, &segs));
    let l = lines(&out);
    assert!(l.iter().any(|v| v["gap"]["missing_bytes"] == 16), "{out}");
    // The damaged message is lost; the stream picks up at the next start line.
    assert_eq!(call_ids(&out), ["synth2@sip.test", "synth3@sip.test"]);
    let s = summary(&out);
    assert_eq!(s["gaps"][0]["missing_bytes"], 16);
    assert_eq!(
        s["gaps"][0]["stream"],
        "tcp 127.0.0.1:40000 > 127.0.0.1:5060"
    );
}

#[test]
fn synthetic_pcapng_several_interfaces_and_resolutions() {
    let c = sip_conversation();
    let links = [Link::Ethernet, Link::LinuxSll2, Link::Raw];
    let mut frames = Vec::new();
    for (i, s) in c.segments.iter().enumerate() {
        let iface = (i % 3) as u32;
        frames.push(synth::tcp_frame(links[iface as usize], iface, s));
    }
    let udp = SIP_MSG.replace("synth1", "udp1").replace("TCP", "UDP");
    frames.push(synth::udp_frame(
        Link::LinuxSll2,
        1,
        1_003_000_000,
        addr("[::1]:5070"),
        addr("[::1]:5060"),
        udp.as_bytes(),
    ));
    let (status, out) = translate_bytes("ifaces.pcapng", &synth::pcapng(&links, &frames));
    assert_eq!(status, EXIT_OK);
    assert_eq!(
        call_ids(&out),
        [
            "synth1@sip.test",
            "synth2@sip.test",
            "synth3@sip.test",
            "udp1@sip.test"
        ]
    );
    let l = lines(&out);
    // Interface 1 records microseconds, interface 0 nanoseconds: both give capture time.
    assert_eq!(l[3]["t"], "0.003000");
    assert_eq!(l[3]["stream"], "udp [::1]:5070 > [::1]:5060");
    assert_eq!(
        summary(&out)["packets_per_interface"]
            .as_object()
            .unwrap()
            .len(),
        3
    );
}

#[test]
fn synthetic_xmpp_with_gap_resyncs_at_next_stanza() {
    let mut c = TcpConversation::new(addr("127.0.0.1:40001"), addr("127.0.0.1:5269"), [5, 7]);
    c.handshake(0);
    let open = "<stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' from='a.test' to='b.test' version='1.0'>";
    c.send(1_000, true, open.as_bytes(), 1000);
    for i in 0..3 {
        let m = format!(
            "<message from='x@a.test' to='y@b.test' type='chat' id='id{i}'><body>hi {i}</body></message>"
        );
        c.send(2_000 + i * 10, true, m.as_bytes(), 30);
    }
    let mut segs = c.segments.clone();
    segs.remove(5); // inside the first message
    let (_, out) = translate_bytes("xmpp-gap.pcap", &write(Link::Ethernet, &segs));
    let ids: Vec<_> = lines(&out)
        .iter()
        .filter_map(|v| v["xmpp"]["message"]["id"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(ids, ["id1", "id2"], "{out}");
    assert_eq!(summary(&out)["gaps"].as_array().unwrap().len(), 1);
}

#[test]
fn unreadable_inputs_are_reported() {
    let (status, out) = translate_bytes("junk.pcap", b"this is not a capture");
    assert_eq!(status, EXIT_DATAERR);
    assert_eq!(summary(&out)["packets"], 0);
    let (status, _) = translate_paths(vec![PathBuf::from("/nonexistent/x.pcap")]);
    assert_eq!(status, EXIT_NOINPUT);
    // A capture cut inside a record still gives the packets before it.
    let c = sip_conversation();
    let mut bytes = write(Link::Ethernet, &c.segments);
    bytes.truncate(bytes.len() - 10);
    let (status, out) = translate_bytes("cut.pcap", &bytes);
    assert_eq!(status, EXIT_DATAERR);
    assert_eq!(call_ids(&out).len(), 3);
}

#[test]
fn translation_is_deterministic() {
    let cap = captures_dir().join("xmpp-s2s.pcapng");
    let a = translate_paths(vec![cap.clone()]).1;
    let b = translate_paths(vec![cap]).1;
    assert_eq!(a, b);
}

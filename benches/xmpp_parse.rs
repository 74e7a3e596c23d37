//! XMPP parse benchmarks: parley (framer + typed view) against minidom + xmpp-parsers and a
//! raw quick-xml `NsReader` pass (the floor), same inputs, same run.
//!
//! `cargo bench --bench xmpp_parse` runs criterion and then prints a table of ns/stanza,
//! MB/s and heap allocations per stanza (counted by a global allocator).

use std::alloc::System;
use std::hint::black_box;
use std::time::Instant;

use bytes::BytesMut;
use criterion::{Criterion, Throughput};
use parley::xmpp::stanza::{Element, parse_element};
use parley::xmpp::{Frame, Framer, StreamHeader, XmppLimits};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const HEADER: &str = "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0' from='a.example' to='b.example' id='s1'>";

/// ~300-byte chat message with body, thread and chat state.
const MESSAGE: &str = "<message xmlns='jabber:client' from='juliet@capulet.example/balcony' to='romeo@montague.example' type='chat' id='5ab7c2e4-1f0d-4d1c-9e3a-7f2b9c1d0e8f' xml:lang='en'><body>Wherefore art thou, Romeo? Deny thy father and refuse thy name.</body><thread>e0ffe42b28561960c6b12b944a09</thread><active xmlns='http://jabber.org/protocol/chatstates'/></message>";

/// Presence with show, status, priority and caps.
const PRESENCE: &str = "<presence xmlns='jabber:client' from='romeo@montague.example/orchard' to='juliet@capulet.example' id='p7'><show>away</show><status>In the orchard</status><priority>5</priority><c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='https://parley.example' ver='QgayPKawpkPSDYmwT/WM94uAlu0='/></presence>";

/// ~1.2 KB vCard result.
const VCARD: &str = "<iq xmlns='jabber:client' id='v1' from='stpeter@jabber.org' to='stpeter@jabber.org/roundabout' type='result'><vCard xmlns='vcard-temp'><FN>Peter Saint-Andre</FN><N><FAMILY>Saint-Andre</FAMILY><GIVEN>Peter</GIVEN><MIDDLE/></N><NICKNAME>stpeter</NICKNAME><URL>http://www.xmpp.org/xsf/people/stpeter.shtml</URL><BDAY>1966-08-06</BDAY><ORG><ORGNAME>XMPP Standards Foundation</ORGNAME><ORGUNIT/></ORG><TITLE>Executive Director</TITLE><ROLE>Patron Saint</ROLE><TEL><WORK/><VOICE/><NUMBER>303-308-3282</NUMBER></TEL><TEL><WORK/><FAX/><NUMBER/></TEL><TEL><WORK/><MSG/><NUMBER/></TEL><ADR><WORK/><EXTADD>Suite 600</EXTADD><STREET>1899 Wynkoop Street</STREET><LOCALITY>Denver</LOCALITY><REGION>CO</REGION><PCODE>80202</PCODE><CTRY>USA</CTRY></ADR><TEL><HOME/><VOICE/><NUMBER>303-555-1212</NUMBER></TEL><TEL><HOME/><FAX/><NUMBER/></TEL><TEL><HOME/><MSG/><NUMBER/></TEL><ADR><HOME/><EXTADD/><STREET/><LOCALITY>Denver</LOCALITY><REGION>CO</REGION><PCODE>80209</PCODE><CTRY>USA</CTRY></ADR><EMAIL><INTERNET/><PREF/><USERID>stpeter@jabber.org</USERID></EMAIL><JABBERID>stpeter@jabber.org</JABBERID><DESC>More information about me is located on my personal website: http://www.saint-andre.com/</DESC></vCard></iq>";

/// One way of turning stanza bytes into something typed.
#[derive(Clone, Copy)]
enum Imp {
    /// Framer + `Framer::parse_last` (the typed parse reuses the framer's token marks; + the
    /// vCard payload view).
    Parley,
    /// `parse_element` on an already framed slice.
    ParleyParseOnly,
    /// `minidom::Element` + `xmpp_parsers` `TryFrom`.
    XmppParsers,
    /// quick-xml `NsReader::read_resolved_event` until EOF.
    Floor,
}

impl Imp {
    fn name(self) -> &'static str {
        match self {
            Imp::Parley => "parley frame+parse",
            Imp::ParleyParseOnly => "parley parse only",
            Imp::XmppParsers => "minidom+xmpp-parsers",
            Imp::Floor => "quick-xml NsReader floor",
        }
    }
}

/// State reused across iterations (the connection's read buffer and framer).
struct Ctx {
    framer: Framer,
    buf: BytesMut,
    header: StreamHeader,
}

impl Ctx {
    fn new() -> Ctx {
        let mut framer = Framer::new(XmppLimits::default());
        let mut buf = BytesMut::with_capacity(64 * 1024);
        buf.extend_from_slice(HEADER.as_bytes());
        let Ok(Some(Frame::Open(header))) = framer.next_frame(&mut buf) else {
            panic!("header")
        };
        Ctx {
            framer,
            buf,
            header,
        }
    }
}

/// Parse every stanza in `input` once; returns the number of stanzas.
fn run(imp: Imp, ctx: &mut Ctx, input: &str, stanzas: &[&str]) -> usize {
    match imp {
        Imp::Parley => {
            ctx.buf.extend_from_slice(input.as_bytes());
            let mut n = 0;
            while let Ok(Some(frame)) = ctx.framer.next_frame(&mut ctx.buf) {
                if let Frame::Element(bytes) = frame {
                    let el = ctx.framer.parse_last(&bytes, &ctx.header).expect("parse");
                    if let Element::Iq(iq) = &el {
                        black_box(iq.payload_kind());
                    }
                    black_box(&el);
                    n += 1;
                }
            }
            n
        }
        Imp::ParleyParseOnly => {
            for s in stanzas {
                let el = parse_element(s.as_bytes(), &ctx.header).expect("parse");
                if let Element::Iq(iq) = &el {
                    black_box(iq.payload_kind());
                }
                black_box(&el);
            }
            stanzas.len()
        }
        Imp::XmppParsers => {
            for s in stanzas {
                let el: minidom::Element = s.parse().expect("minidom");
                match el.name() {
                    "message" => {
                        black_box(xmpp_parsers::message::Message::try_from(el).expect("message"));
                    }
                    "presence" => {
                        black_box(
                            xmpp_parsers::presence::Presence::try_from(el).expect("presence"),
                        );
                    }
                    _ => {
                        let iq = xmpp_parsers::iq::Iq::try_from(el).expect("iq");
                        if let xmpp_parsers::iq::Iq::Result {
                            payload: Some(p), ..
                        } = iq
                        {
                            black_box(xmpp_parsers::vcard::VCard::try_from(p).ok());
                        }
                    }
                }
            }
            stanzas.len()
        }
        Imp::Floor => {
            for s in stanzas {
                let mut r = quick_xml::NsReader::from_reader(s.as_bytes());
                loop {
                    match r.read_resolved_event() {
                        Ok((_, quick_xml::events::Event::Eof)) => break,
                        Ok(ev) => {
                            black_box(ev);
                        }
                        Err(e) => panic!("{e}"),
                    }
                }
            }
            stanzas.len()
        }
    }
}

/// The inputs: name, stream bytes, stanzas.
fn inputs() -> Vec<(&'static str, String, Vec<&'static str>)> {
    let mut stream = Vec::new();
    for i in 0..64 {
        stream.push([MESSAGE, PRESENCE, MESSAGE, VCARD][i % 4]);
    }
    vec![
        ("chat message", MESSAGE.to_owned(), vec![MESSAGE]),
        ("presence+caps", PRESENCE.to_owned(), vec![PRESENCE]),
        ("vcard iq", VCARD.to_owned(), vec![VCARD]),
        ("64-stanza stream", stream.concat(), stream),
    ]
}

const IMPS: [Imp; 4] = [
    Imp::Parley,
    Imp::ParleyParseOnly,
    Imp::XmppParsers,
    Imp::Floor,
];

fn criterion_benches(c: &mut Criterion) {
    for (name, input, stanzas) in inputs() {
        let mut g = c.benchmark_group(format!("xmpp/{name}"));
        g.throughput(Throughput::Bytes(input.len() as u64));
        for imp in IMPS {
            let mut ctx = Ctx::new();
            g.bench_function(imp.name(), |b| {
                b.iter(|| run(imp, &mut ctx, &input, &stanzas))
            });
        }
        g.finish();
    }
}

/// A table of ns/stanza, MB/s and allocations/stanza, measured directly.
fn table() {
    println!("\n| input | implementation | ns/stanza | MB/s | allocs/stanza |");
    println!("|---|---|---:|---:|---:|");
    for (name, input, stanzas) in inputs() {
        for imp in IMPS {
            let mut ctx = Ctx::new();
            for _ in 0..200 {
                run(imp, &mut ctx, &input, &stanzas);
            }
            let iters = (200_000 / stanzas.len()).max(200);
            let region = Region::new(GLOBAL);
            let mut n = 0;
            for _ in 0..1000 {
                n += run(imp, &mut ctx, &input, &stanzas);
            }
            let allocs = region.change().allocations as f64 / n as f64;
            let t = Instant::now();
            let mut n = 0;
            for _ in 0..iters {
                n += run(imp, &mut ctx, &input, &stanzas);
            }
            let ns = t.elapsed().as_nanos() as f64 / n as f64;
            let bytes_per_stanza = input.len() as f64 / stanzas.len() as f64;
            let mbs = bytes_per_stanza / ns * 1e9 / 1e6;
            println!(
                "| {name} | {} | {ns:.0} | {mbs:.0} | {allocs:.2} |",
                imp.name()
            );
        }
    }
}

fn main() {
    let table_only = std::env::args().any(|a| a == "--table-only");
    if !table_only {
        let mut c = Criterion::default().configure_from_args();
        criterion_benches(&mut c);
        c.final_summary();
    }
    table();
}

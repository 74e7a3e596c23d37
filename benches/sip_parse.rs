//! SIP codec benchmark: parley against rsip on the same inputs (issue 3).
//!
//! Two figures per input: `frame+parse` (framing and tier-1 parse; rsip has no framer, so its
//! figure is its parse) and `parse+typed` (parse, then typed Via, From, To, CSeq, Call-ID,
//! Max-Forwards and Content-Type). Before criterion runs, a counting global allocator reports
//! heap allocations per message for each figure.
//!
//! Run: `nice -n 10 cargo bench --bench sip_parse` (instruction counts: see [`instruction_loop`])

use std::alloc::System;
use std::hint::black_box;
use std::time::Duration;

use bytes::Bytes;
use criterion::{Criterion, Throughput};
use parley::sip::framing::{Frame, frame_datagram, frame_datagram_head, next_frame};
use parley::sip::{SipLimits, SipMessage};
use rsip::prelude::*;
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/protocol-tests/sip");

/// Named inputs: each a list of whole messages.
fn inputs() -> Vec<(&'static str, Vec<Bytes>)> {
    let one = |f: &str| {
        vec![Bytes::from(
            std::fs::read(format!("{DIR}/bench/{f}")).unwrap(),
        )]
    };
    let index = std::fs::read_to_string(format!("{DIR}/rfc4475/INDEX.tsv")).unwrap();
    let valid: Vec<Bytes> = index
        .lines()
        .filter(|l| l.split('\t').nth(2) == Some("valid"))
        .map(|l| {
            let file = l.split('\t').next().unwrap_or_default();
            let raw = std::fs::read(format!("{DIR}/rfc4475/{file}")).unwrap();
            let n = frame_datagram(&raw, &SipLimits::default()).unwrap();
            Bytes::copy_from_slice(&raw[..n])
        })
        .collect();
    vec![
        ("message", one("rfc3428-message.sip")),
        ("notify_pidf", one("rfc6665-notify-pidf.sip")),
        ("subscribe", one("rfc6665-subscribe.sip")),
        ("ok200", one("rfc3261-200-ok.sip")),
        ("rfc4475_valid", valid),
    ]
}

fn parley_frame_parse(buf: &Bytes, limits: &SipLimits) -> Option<SipMessage> {
    // Datagram framing for messages without Content-Length (RFC 4475 §3.4.1), stream otherwise.
    // The framer's head scan is handed to the parser, so the head is scanned once.
    let head = match next_frame(buf, limits) {
        Ok(Some(Frame::Message(head))) => head,
        _ => frame_datagram_head(buf, limits).ok()?,
    };
    SipMessage::from_head(buf.slice(..head.len()), head, limits).ok()
}

// Kept out of line so that callgrind can count its instructions (see `main`).
#[inline(never)]
fn parley_typed(buf: &Bytes, limits: &SipLimits) -> usize {
    let Some(m) = parley_frame_parse(buf, limits) else {
        return 0;
    };
    let mut n = 0;
    n += m.via().map(|v| v.host.len()).unwrap_or(0);
    n += m.from().map(|f| f.uri.len()).unwrap_or(0);
    n += m.to().map(|t| t.uri.len()).unwrap_or(0);
    n += m.cseq().map(|c| c.seq as usize).unwrap_or(0);
    n += m.call_id().map(str::len).unwrap_or(0);
    n += m.max_forwards().ok().flatten().unwrap_or(0) as usize;
    n += m
        .content_type()
        .ok()
        .flatten()
        .map(|c| c.subtype.len())
        .unwrap_or(0);
    n
}

fn rsip_parse(buf: &Bytes) -> Option<rsip::SipMessage> {
    rsip::SipMessage::try_from(&buf[..]).ok()
}

#[inline(never)]
fn rsip_typed(buf: &Bytes) -> usize {
    let Some(m) = rsip_parse(buf) else {
        return 0;
    };
    let mut n = 0;
    if let Ok(v) = m.via_header().and_then(|v| v.typed()) {
        n += v.uri.host_with_port.to_string().len();
    }
    if let Ok(f) = m.from_header().and_then(|f| f.typed()) {
        n += f.uri.to_string().len();
    }
    if let Ok(t) = m.to_header().and_then(|t| t.typed()) {
        n += t.uri.to_string().len();
    }
    if let Ok(c) = m.cseq_header().and_then(|c| c.typed()) {
        n += c.seq as usize;
    }
    if let Ok(c) = m.call_id_header() {
        n += c.value().len();
    }
    if let Ok(mf) = m.max_forwards_header().and_then(|h| h.num()) {
        n += mf as usize;
    }
    let ct = m.headers().iter().find_map(|h| match h {
        rsip::Header::ContentType(ct) => Some(ct),
        _ => None,
    });
    if let Some(Ok(ct)) = ct.map(|c| c.typed()) {
        n += ct.0.to_string().len();
    }
    n
}

/// Heap allocations per message of `f` over `msgs` (averaged over a few rounds, after warm-up).
fn allocs_per_msg(msgs: &[Bytes], f: impl Fn(&Bytes) -> usize) -> f64 {
    for m in msgs {
        black_box(f(m));
    }
    let rounds = 10;
    let region = Region::new(GLOBAL);
    for _ in 0..rounds {
        for m in msgs {
            black_box(f(m));
        }
    }
    region.change().allocations as f64 / (rounds * msgs.len()) as f64
}

fn alloc_report(inputs: &[(&'static str, Vec<Bytes>)]) {
    let l = SipLimits::default();
    println!("heap allocations per message (counting global allocator)");
    println!(
        "{:<14} {:>7} {:>22} {:>22} {:>18} {:>18}",
        "input",
        "bytes",
        "parley frame+parse",
        "parley parse+typed",
        "rsip parse",
        "rsip parse+typed"
    );
    for (name, msgs) in inputs {
        let bytes: usize = msgs.iter().map(Bytes::len).sum();
        let pp = allocs_per_msg(msgs, |b| usize::from(parley_frame_parse(b, &l).is_some()));
        let pt = allocs_per_msg(msgs, |b| parley_typed(b, &l));
        let rp = allocs_per_msg(msgs, |b| usize::from(rsip_parse(b).is_some()));
        let rt = allocs_per_msg(msgs, rsip_typed);
        let ok_p = msgs
            .iter()
            .filter(|b| parley_frame_parse(b, &l).is_some())
            .count();
        let ok_r = msgs.iter().filter(|b| rsip_parse(b).is_some()).count();
        println!(
            "{name:<14} {:>7} {pp:>22.1} {pt:>22.1} {rp:>18.1} {rt:>18.1}   (parsed: parley {ok_p}/{n}, rsip {ok_r}/{n})",
            bytes / msgs.len(),
            n = msgs.len()
        );
    }
}

fn benches(c: &mut Criterion, inputs: &[(&'static str, Vec<Bytes>)]) {
    let l = SipLimits::default();
    for (name, msgs) in inputs {
        let bytes: usize = msgs.iter().map(Bytes::len).sum();
        let mut g = c.benchmark_group(*name);
        g.throughput(Throughput::Bytes(bytes as u64));
        g.bench_function("parley/frame+parse", |b| {
            b.iter(|| {
                for m in msgs {
                    black_box(parley_frame_parse(black_box(m), &l));
                }
            })
        });
        g.bench_function("parley/parse+typed", |b| {
            b.iter(|| {
                for m in msgs {
                    black_box(parley_typed(black_box(m), &l));
                }
            })
        });
        g.bench_function("rsip/parse", |b| {
            b.iter(|| {
                for m in msgs {
                    black_box(rsip_parse(black_box(m)));
                }
            })
        });
        g.bench_function("rsip/parse+typed", |b| {
            b.iter(|| {
                for m in msgs {
                    black_box(rsip_typed(black_box(m)));
                }
            })
        });
        g.finish();
    }
}

/// With `SIP_PARSE_LOOP=<input>` set, parse + type that input's messages 1,000 times with each
/// library and exit: instructions per message under
/// `valgrind --tool=callgrind --collect-atstart=no --toggle-collect='sip_parse::parley_typed'`
/// (or `rsip_typed`) are the collected total / (1,000 × messages), steady under machine load.
fn instruction_loop(inputs: &[(&'static str, Vec<Bytes>)], name: &str) {
    let l = SipLimits::default();
    let Some((_, msgs)) = inputs.iter().find(|(n, _)| *n == name) else {
        eprintln!("no input named {name}");
        return;
    };
    for _ in 0..1000 {
        for m in msgs {
            black_box(parley_typed(black_box(m), &l));
            black_box(rsip_typed(black_box(m)));
        }
    }
}

fn main() {
    let inputs = inputs();
    if let Ok(name) = std::env::var("SIP_PARSE_LOOP") {
        instruction_loop(&inputs, &name);
        return;
    }
    alloc_report(&inputs);
    let mut c = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .configure_from_args();
    benches(&mut c, &inputs);
    c.final_summary();
}

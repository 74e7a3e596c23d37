//! The replay engine: packets in, protocol messages out, in capture order.
//!
//! Each TCP connection is found by its address pair, reassembled per direction
//! ([`super::tcp`]), classified once (TLS, then the configured ports, then the content), and
//! split into messages ([`super::split`]). UDP datagrams are classified one by one. Everything
//! found is handed to a [`Sink`] as an [`Event`]; the engine keeps the counters of the summary
//! that belong to packets and streams.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::net::SocketAddr;

use bytes::Bytes;

use super::capture::Packet;
use super::link::{self, SegmentKind, Skip, TcpSeg};
use super::split::{self, Item, Signal, SipSplitter, XmppSplitter, looks_like_tls};
use super::tcp::{Chunk, Reassembler};
use crate::sip::SipLimits;
use crate::sip::framing::frame_datagram;
use crate::xmpp::XmppLimits;

/// Application protocol of a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Proto {
    /// SIP (RFC 3261).
    Sip,
    /// XMPP (RFC 6120).
    Xmpp,
}

impl Proto {
    /// Lower-case name.
    pub fn as_str(&self) -> &'static str {
        match self {
            Proto::Sip => "sip",
            Proto::Xmpp => "xmpp",
        }
    }
}

/// One direction of a connection, or a UDP sender/receiver pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StreamId {
    /// True for TCP.
    pub tcp: bool,
    /// Sender.
    pub src: SocketAddr,
    /// Receiver.
    pub dst: SocketAddr,
    /// Whether `src` opened the connection (sent the first packet seen); always true for UDP.
    pub initiator: bool,
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = if self.tcp { "tcp" } else { "udp" };
        write!(f, "{t} {} > {}", self.src, self.dst)
    }
}

/// Something found in the capture.
#[derive(Debug)]
pub(crate) struct Event<'a> {
    /// Capture time (ns since the epoch) of the packet that completed it.
    pub ts_ns: u64,
    /// Where.
    pub stream: &'a StreamId,
    /// The protocol of the stream (unknown for a TLS stream on no configured port).
    pub proto: Option<Proto>,
    /// What.
    pub item: Item<'a>,
}

/// Receiver of events.
pub(crate) trait Sink {
    /// The capture's first packet was taken at `ts_ns`.
    fn start(&mut self, _ts_ns: u64) {}

    /// One event, in capture order.
    fn event(&mut self, e: Event<'_>);
}

/// Engine settings.
#[derive(Debug, Clone)]
pub(crate) struct EngineConfig {
    /// Ports that mean SIP.
    pub sip_ports: Vec<u16>,
    /// Ports that mean XMPP.
    pub xmpp_ports: Vec<u16>,
    /// Out-of-order bytes held per TCP direction.
    pub max_pending: usize,
    /// Connections tracked at once.
    pub max_flows: usize,
}

/// Packet and stream counters.
#[derive(Debug, Default, Clone)]
pub(crate) struct EngineStats {
    /// Packets read.
    pub packets: u64,
    /// Captured bytes read.
    pub bytes: u64,
    /// Packets per capture interface.
    pub interfaces: BTreeMap<u32, u64>,
    /// Packets skipped, by reason.
    pub skipped: BTreeMap<Skip, u64>,
    /// TCP connections seen.
    pub tcp_connections: u64,
    /// Connections (and UDP datagrams) that were neither SIP nor XMPP.
    pub unclassified: u64,
    /// Connections over `max_flows`, ignored.
    pub over_limit: u64,
    /// Streams that looked like TLS.
    pub tls_streams: Vec<String>,
    /// Streams with missing bytes: (stream, gaps, bytes missing).
    pub gaps: Vec<(String, u64, u64)>,
    /// Retransmitted and overlapping TCP bytes dropped.
    pub duplicate_bytes: u64,
}

/// How a connection was classified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Undecided,
    Proto(Proto),
    Tls,
    Other,
}

#[derive(Debug)]
enum Splitter {
    None,
    Sip(SipSplitter),
    Xmpp(Box<XmppSplitter>),
}

#[derive(Debug)]
struct Dir {
    id: StreamId,
    reasm: Reassembler,
    split: Splitter,
    saw_syn: bool,
    tls_reported: bool,
}

#[derive(Debug)]
struct Flow {
    order: u64,
    class: Class,
    dirs: [Dir; 2],
    closed: bool,
}

type Key = (SocketAddr, SocketAddr);

/// The engine.
#[derive(Debug)]
pub(crate) struct Engine {
    cfg: EngineConfig,
    flows: HashMap<Key, Flow>,
    next_order: u64,
    last_ts: u64,
    /// Counters.
    pub stats: EngineStats,
}

impl Engine {
    /// An engine with no connections.
    pub fn new(cfg: EngineConfig) -> Self {
        Engine {
            cfg,
            flows: HashMap::new(),
            next_order: 0,
            last_ts: 0,
            stats: EngineStats::default(),
        }
    }

    /// One captured packet.
    pub fn packet(&mut self, p: Packet<'_>, sink: &mut dyn Sink) {
        self.stats.packets += 1;
        self.stats.bytes += p.data.len() as u64;
        *self.stats.interfaces.entry(p.iface).or_default() += 1;
        self.last_ts = p.ts_ns;
        let seg = match link::decode(p.link, p.data) {
            Ok(s) => s,
            Err(skip) => {
                *self.stats.skipped.entry(skip).or_default() += 1;
                return;
            }
        };
        match seg.kind {
            SegmentKind::Udp(payload) => self.udp(p.ts_ns, seg.src, seg.dst, payload, sink),
            SegmentKind::Tcp(t) => self.tcp(p.ts_ns, seg.src, seg.dst, t, sink),
        }
    }

    /// The protocol the configured ports name, if exactly one.
    fn port_proto(&self, src: SocketAddr, dst: SocketAddr) -> Option<Proto> {
        let port_is = |ports: &[u16]| ports.contains(&src.port()) || ports.contains(&dst.port());
        match (port_is(&self.cfg.sip_ports), port_is(&self.cfg.xmpp_ports)) {
            (true, false) => Some(Proto::Sip),
            (false, true) => Some(Proto::Xmpp),
            _ => None,
        }
    }

    fn classify(&self, src: SocketAddr, dst: SocketAddr, first: &[u8]) -> Class {
        if looks_like_tls(first, true) {
            return Class::Tls;
        }
        if let Some(p) = self.port_proto(src, dst) {
            return Class::Proto(p);
        }
        if split::is_sip_start(first) {
            Class::Proto(Proto::Sip)
        } else if split::is_xmpp_start(first) {
            Class::Proto(Proto::Xmpp)
        } else {
            Class::Other
        }
    }

    fn udp(
        &mut self,
        ts: u64,
        src: SocketAddr,
        dst: SocketAddr,
        payload: &[u8],
        sink: &mut dyn Sink,
    ) {
        if payload.is_empty() || payload.iter().all(|b| matches!(b, b'\r' | b'\n' | 0)) {
            return; // keep-alives
        }
        let id = StreamId {
            tcp: false,
            src,
            dst,
            initiator: true,
        };
        let class = self.classify(src, dst, payload);
        let proto = match class {
            Class::Proto(Proto::Sip) => Proto::Sip,
            Class::Proto(Proto::Xmpp) | Class::Other | Class::Undecided => {
                self.stats.unclassified += 1;
                return;
            }
            Class::Tls => {
                let proto = self.port_proto(src, dst);
                self.report_tls(&id, ts, proto, sink);
                return;
            }
        };
        let limits = SipLimits::default();
        let item = match frame_datagram(payload, &limits) {
            Ok(len) => Item::Sip(Bytes::copy_from_slice(&payload[..len])),
            Err(e) => Item::SipInvalid(e),
        };
        sink.event(Event {
            ts_ns: ts,
            stream: &id,
            proto: Some(proto),
            item,
        });
    }

    fn report_tls(&mut self, id: &StreamId, ts: u64, proto: Option<Proto>, sink: &mut dyn Sink) {
        self.stats.tls_streams.push(id.to_string());
        sink.event(Event {
            ts_ns: ts,
            stream: id,
            proto,
            item: Item::Tls,
        });
    }

    fn tcp(
        &mut self,
        ts: u64,
        src: SocketAddr,
        dst: SocketAddr,
        t: TcpSeg<'_>,
        sink: &mut dyn Sink,
    ) {
        let key = if src <= dst { (src, dst) } else { (dst, src) };
        let d = usize::from(src != key.0);
        let fresh_syn = t.syn
            && self
                .flows
                .get(&key)
                .is_some_and(|f| f.dirs[d].reasm.started() && !f.dirs[d].reasm.syn_matches(t.seq));
        if fresh_syn {
            // A new connection on the same address pair: finish the old one.
            if let Some(old) = self.flows.remove(&key) {
                self.finish_flow(old, sink);
            }
        }
        if !self.flows.contains_key(&key) {
            if t.payload.is_empty() && !t.syn {
                return;
            }
            if self.flows.len() >= self.cfg.max_flows {
                self.stats.over_limit += 1;
                return;
            }
            self.stats.tcp_connections += 1;
            let order = self.next_order;
            self.next_order += 1;
            let mk = |s, r, initiator| Dir {
                id: StreamId {
                    tcp: true,
                    src: s,
                    dst: r,
                    initiator,
                },
                reasm: Reassembler::new(self.cfg.max_pending),
                split: Splitter::None,
                saw_syn: false,
                tls_reported: false,
            };
            let dirs = if d == 0 {
                [mk(key.0, key.1, true), mk(key.1, key.0, false)]
            } else {
                [mk(key.0, key.1, false), mk(key.1, key.0, true)]
            };
            self.flows.insert(
                key,
                Flow {
                    order,
                    class: Class::Undecided,
                    dirs,
                    closed: false,
                },
            );
        }
        let Some(mut flow) = self.flows.remove(&key) else {
            return;
        };
        if !flow.closed {
            self.segment(&mut flow, d, ts, t, sink);
            if t.rst {
                self.close(&mut flow, ts, sink);
            }
        }
        self.flows.insert(key, flow);
    }

    fn segment(&mut self, flow: &mut Flow, d: usize, ts: u64, t: TcpSeg<'_>, sink: &mut dyn Sink) {
        let mut seq = t.seq;
        if t.syn {
            flow.dirs[d].reasm.syn(t.seq);
            flow.dirs[d].saw_syn = true;
            seq = seq.wrapping_add(1);
        }
        // Streams that will never yield a message are not reassembled.
        let done = match flow.class {
            Class::Other => true,
            Class::Tls => flow.dirs[d].tls_reported,
            _ => false,
        };
        if done {
            return;
        }
        let (mine, other) = split_pair(&mut flow.dirs, d);
        let class = &mut flow.class;
        let Dir {
            id,
            reasm,
            split,
            saw_syn,
            tls_reported,
        } = mine;
        let mut cx = Deliver {
            engine: self,
            class,
            id,
            split,
            other,
            resync: !*saw_syn,
            tls_reported,
            ts,
            sink,
        };
        reasm.segment(seq, t.payload, t.fin, &mut |c| cx.chunk(c));
    }

    /// RST: flush both directions.
    fn close(&mut self, flow: &mut Flow, ts: u64, sink: &mut dyn Sink) {
        for d in 0..2 {
            let (mine, other) = split_pair(&mut flow.dirs, d);
            let Dir {
                id,
                reasm,
                split,
                saw_syn,
                tls_reported,
            } = mine;
            let mut cx = Deliver {
                engine: self,
                class: &mut flow.class,
                id,
                split,
                other,
                resync: !*saw_syn,
                tls_reported,
                ts,
                sink,
            };
            reasm.flush(&mut |c| cx.chunk(c));
            cx.finish();
        }
        flow.closed = true;
    }

    fn finish_flow(&mut self, mut flow: Flow, sink: &mut dyn Sink) {
        if !flow.closed {
            self.close(&mut flow, self.last_ts, sink);
        }
        for dir in &flow.dirs {
            let s = dir.reasm.stats;
            self.stats.duplicate_bytes += s.retransmitted + s.overlapped;
            if s.gaps > 0 {
                self.stats
                    .gaps
                    .push((dir.id.to_string(), s.gaps, s.missing));
            }
        }
    }

    /// End of capture: flush every connection, in the order they were first seen.
    pub fn finish(&mut self, sink: &mut dyn Sink) {
        let mut flows: Vec<Flow> = self.flows.drain().map(|(_, f)| f).collect();
        flows.sort_by_key(|f| f.order);
        for f in flows {
            self.finish_flow(f, sink);
        }
    }
}

fn split_pair(dirs: &mut [Dir; 2], d: usize) -> (&mut Dir, &mut Dir) {
    let [a, b] = dirs;
    if d == 0 { (a, b) } else { (b, a) }
}

/// Delivery of reassembled chunks of one direction to its splitter.
struct Deliver<'a> {
    engine: &'a mut Engine,
    class: &'a mut Class,
    id: &'a StreamId,
    split: &'a mut Splitter,
    other: &'a mut Dir,
    resync: bool,
    tls_reported: &'a mut bool,
    ts: u64,
    sink: &'a mut dyn Sink,
}

impl Deliver<'_> {
    fn emit_fn<'s>(&'s mut self, proto: Proto) -> impl FnMut(Item<'_>) + 's {
        let (ts, id) = (self.ts, self.id);
        let sink = &mut *self.sink;
        move |item| {
            sink.event(Event {
                ts_ns: ts,
                stream: id,
                proto: Some(proto),
                item,
            })
        }
    }

    fn chunk(&mut self, c: Chunk<'_>) {
        if *self.class == Class::Undecided
            && let Chunk::Data(d) = c
        {
            *self.class = self.engine.classify(self.id.src, self.id.dst, d);
            match *self.class {
                Class::Other => self.engine.stats.unclassified += 1,
                Class::Proto(p) => {
                    self.other.split = new_splitter(p, !self.other.saw_syn);
                }
                _ => {}
            }
        }
        let proto = match *self.class {
            Class::Proto(p) => p,
            Class::Tls => {
                self.tls();
                return;
            }
            Class::Undecided | Class::Other => return,
        };
        if matches!(self.split, Splitter::None) && !*self.tls_reported {
            *self.split = new_splitter(proto, self.resync);
        }
        let mut split = std::mem::replace(self.split, Splitter::None);
        let mut tls = false;
        let mut signal = Signal::None;
        {
            let mut emit = self.emit_fn(proto);
            match (&mut split, c) {
                (Splitter::Sip(s), Chunk::Data(d)) => tls = s.data(d, &mut emit),
                (Splitter::Sip(s), Chunk::Gap(n)) => s.gap(n, &mut emit),
                (Splitter::Xmpp(s), Chunk::Data(d)) => {
                    (signal, tls) = s.data(d, &mut emit);
                }
                (Splitter::Xmpp(s), Chunk::Gap(n)) => s.gap(n, &mut emit),
                (Splitter::None, _) => {}
            }
        }
        if let (Splitter::Xmpp(o), true) = (&mut self.other.split, signal != Signal::None) {
            o.signal(signal);
        }
        if tls {
            *self.tls_reported = true;
            self.engine.stats.tls_streams.push(self.id.to_string());
        } else {
            *self.split = split;
        }
    }

    /// A direct-TLS connection: say so once per direction.
    fn tls(&mut self) {
        if !*self.tls_reported {
            *self.tls_reported = true;
            let id = self.id.clone();
            let proto = self.engine.port_proto(id.src, id.dst);
            self.engine.report_tls(&id, self.ts, proto, self.sink);
        }
    }

    /// End of this direction.
    fn finish(&mut self) {
        let proto = match *self.class {
            Class::Proto(p) => p,
            _ => return,
        };
        let mut split = std::mem::replace(self.split, Splitter::None);
        let mut emit = self.emit_fn(proto);
        match &mut split {
            Splitter::Sip(s) => s.finish(&mut emit),
            Splitter::Xmpp(s) => s.finish(&mut emit),
            Splitter::None => {}
        }
    }
}

fn new_splitter(p: Proto, resync: bool) -> Splitter {
    match p {
        Proto::Sip => Splitter::Sip(SipSplitter::new(SipLimits::default(), resync)),
        Proto::Xmpp => Splitter::Xmpp(Box::new(XmppSplitter::new(XmppLimits::default(), resync))),
    }
}

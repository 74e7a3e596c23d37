//! Synthetic captures for tests, benchmarks and labs: TCP conversations whose segments can be
//! reordered, duplicated or dropped before they are written, UDP datagrams, and pcap/pcapng
//! files over Ethernet, Linux cooked (SLL, SLL2) and raw IP links.
//!
//! The link headers are written here by hand (not by the decoder's library), so the decoder is
//! checked against an independent encoding.

use std::io::Cursor;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use etherparse::PacketBuilder;
use pcap_file::DataLink;
use pcap_file::pcap::{PcapHeader, PcapPacket, PcapWriter};
use pcap_file::pcapng::PcapNgWriter;
use pcap_file::pcapng::blocks::enhanced_packet::EnhancedPacketBlock;
use pcap_file::pcapng::blocks::interface_description::{
    InterfaceDescriptionBlock, InterfaceDescriptionOption,
};

/// Link layer of a synthetic packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Link {
    /// Ethernet II.
    Ethernet,
    /// Linux cooked capture v1.
    LinuxSll,
    /// Linux cooked capture v2.
    LinuxSll2,
    /// Raw IP.
    Raw,
}

impl Link {
    fn datalink(self) -> DataLink {
        match self {
            Link::Ethernet => DataLink::ETHERNET,
            Link::LinuxSll => DataLink::LINUX_SLL,
            Link::LinuxSll2 => DataLink::LINUX_SLL2,
            Link::Raw => DataLink::RAW,
        }
    }
}

/// A TCP segment before it is framed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcpSegment {
    /// Capture time, ns since the epoch.
    pub ts_ns: u64,
    /// Sender.
    pub src: SocketAddr,
    /// Receiver.
    pub dst: SocketAddr,
    /// Sequence number.
    pub seq: u32,
    /// SYN.
    pub syn: bool,
    /// FIN.
    pub fin: bool,
    /// RST.
    pub rst: bool,
    /// Payload.
    pub payload: Vec<u8>,
}

/// A TCP connection being written segment by segment.
#[derive(Debug, Clone)]
pub struct TcpConversation {
    client: SocketAddr,
    server: SocketAddr,
    next_seq: [u32; 2],
    /// Segments so far, in sending order.
    pub segments: Vec<TcpSegment>,
}

impl TcpConversation {
    /// A connection from `client` to `server` with the given initial sequence numbers.
    pub fn new(client: SocketAddr, server: SocketAddr, isn: [u32; 2]) -> Self {
        TcpConversation {
            client,
            server,
            next_seq: isn,
            segments: Vec::new(),
        }
    }

    fn push(&mut self, ts_ns: u64, from_client: bool, payload: &[u8], syn: bool, fin: bool) {
        let d = usize::from(!from_client);
        let (src, dst) = if from_client {
            (self.client, self.server)
        } else {
            (self.server, self.client)
        };
        self.segments.push(TcpSegment {
            ts_ns,
            src,
            dst,
            seq: self.next_seq[d],
            syn,
            fin,
            rst: false,
            payload: payload.to_vec(),
        });
        let used = payload.len() as u32 + u32::from(syn) + u32::from(fin);
        self.next_seq[d] = self.next_seq[d].wrapping_add(used);
    }

    /// SYN and SYN-ACK.
    pub fn handshake(&mut self, ts_ns: u64) {
        self.push(ts_ns, true, b"", true, false);
        self.push(ts_ns + 1_000, false, b"", true, false);
    }

    /// `data` from one side, cut into segments of at most `mss` bytes, 1 µs apart.
    pub fn send(&mut self, ts_ns: u64, from_client: bool, data: &[u8], mss: usize) {
        for (i, chunk) in data.chunks(mss.max(1)).enumerate() {
            self.push(ts_ns + i as u64 * 1_000, from_client, chunk, false, false);
        }
    }

    /// FIN from both sides.
    pub fn close(&mut self, ts_ns: u64) {
        self.push(ts_ns, true, b"", false, true);
        self.push(ts_ns + 1_000, false, b"", false, true);
    }
}

/// One framed packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// Capture time, ns since the epoch.
    pub ts_ns: u64,
    /// Interface index (pcapng).
    pub iface: u32,
    /// Bytes from the link header on.
    pub data: Vec<u8>,
}

fn ip_builder(src: IpAddr, dst: IpAddr) -> etherparse::PacketBuilderStep<etherparse::IpHeaders> {
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => PacketBuilder::ipv4(s.octets(), d.octets(), 64),
        (s, d) => PacketBuilder::ipv6(v6(s).octets(), v6(d).octets(), 64),
    }
}

fn v6(a: IpAddr) -> std::net::Ipv6Addr {
    match a {
        IpAddr::V4(v4) => v4.to_ipv6_mapped(),
        IpAddr::V6(v6) => v6,
    }
}

/// Prepend the link header for an IP packet.
fn with_link(link: Link, ip: Vec<u8>, v4: bool) -> Vec<u8> {
    let ether_type: u16 = if v4 { 0x0800 } else { 0x86dd };
    let mut out = Vec::with_capacity(ip.len() + 20);
    match link {
        Link::Ethernet => {
            out.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
            out.extend_from_slice(&ether_type.to_be_bytes());
        }
        Link::LinuxSll => {
            out.extend_from_slice(&0u16.to_be_bytes()); // to us
            out.extend_from_slice(&772u16.to_be_bytes()); // ARPHRD_LOOPBACK
            out.extend_from_slice(&6u16.to_be_bytes());
            out.extend_from_slice(&[0; 8]);
            out.extend_from_slice(&ether_type.to_be_bytes());
        }
        Link::LinuxSll2 => {
            out.extend_from_slice(&ether_type.to_be_bytes());
            out.extend_from_slice(&[0, 0]);
            out.extend_from_slice(&1u32.to_be_bytes()); // ifindex
            out.extend_from_slice(&772u16.to_be_bytes());
            out.extend_from_slice(&[0, 6]);
            out.extend_from_slice(&[0; 8]);
        }
        Link::Raw => {}
    }
    out.extend_from_slice(&ip);
    out
}

/// Frame a TCP segment.
pub fn tcp_frame(link: Link, iface: u32, s: &TcpSegment) -> Frame {
    let mut b = ip_builder(s.src.ip(), s.dst.ip()).tcp(s.src.port(), s.dst.port(), s.seq, 65535);
    if s.syn {
        b = b.syn();
    } else {
        b = b.ack(1);
    }
    if s.fin {
        b = b.fin();
    }
    if s.rst {
        b = b.rst();
    }
    let mut ip = Vec::with_capacity(b.size(s.payload.len()));
    let _ = b.write(&mut ip, &s.payload);
    Frame {
        ts_ns: s.ts_ns,
        iface,
        data: with_link(link, ip, s.src.is_ipv4() && s.dst.is_ipv4()),
    }
}

/// Frame a UDP datagram.
pub fn udp_frame(
    link: Link,
    iface: u32,
    ts_ns: u64,
    src: SocketAddr,
    dst: SocketAddr,
    payload: &[u8],
) -> Frame {
    let b = ip_builder(src.ip(), dst.ip()).udp(src.port(), dst.port());
    let mut ip = Vec::with_capacity(b.size(payload.len()));
    let _ = b.write(&mut ip, payload);
    Frame {
        ts_ns,
        iface,
        data: with_link(link, ip, src.is_ipv4() && dst.is_ipv4()),
    }
}

/// A classic pcap file (microsecond timestamps) of `frames` on one `link`.
pub fn pcap(link: Link, frames: &[Frame]) -> Vec<u8> {
    let header = PcapHeader {
        datalink: link.datalink(),
        snaplen: 262_144,
        ..PcapHeader::default()
    };
    let mut w = match PcapWriter::with_header(Cursor::new(Vec::new()), header) {
        Ok(w) => w,
        Err(_) => return Vec::new(),
    };
    for f in frames {
        let ts = Duration::from_micros(f.ts_ns / 1_000);
        let _ = w.write_packet(&PcapPacket::new(ts, f.data.len() as u32, &f.data));
    }
    w.into_writer().into_inner()
}

/// A pcapng file with one interface per entry of `links`; even interfaces record nanosecond
/// timestamps, odd ones the default microseconds.
pub fn pcapng(links: &[Link], frames: &[Frame]) -> Vec<u8> {
    let mut w = match PcapNgWriter::new(Cursor::new(Vec::new())) {
        Ok(w) => w,
        Err(_) => return Vec::new(),
    };
    for (i, l) in links.iter().enumerate() {
        let mut idb = InterfaceDescriptionBlock::new(l.datalink(), 262_144);
        if i % 2 == 0 {
            idb.options.push(InterfaceDescriptionOption::IfTsResol(9));
        }
        let _ = w.write_pcapng_block(idb);
    }
    for f in frames {
        // pcap-file writes the Duration's nanoseconds as the raw timestamp, in the
        // interface's units.
        let raw = if f.iface % 2 == 0 {
            f.ts_ns
        } else {
            f.ts_ns / 1_000
        };
        let epb = EnhancedPacketBlock {
            interface_id: f.iface,
            timestamp: Duration::from_nanos(raw),
            original_len: f.data.len() as u32,
            data: std::borrow::Cow::Borrowed(&f.data),
            options: Vec::new(),
        };
        let _ = w.write_pcapng_block(epb);
    }
    w.into_inner().into_inner()
}

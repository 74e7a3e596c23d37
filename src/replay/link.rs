//! Link, network and transport headers of a captured packet (decoded by `etherparse`):
//! Ethernet II (with VLAN tags), Linux cooked capture v1 (SLL) and v2 (SLL2), raw IPv4/IPv6,
//! BSD loopback; then IPv4/IPv6 and TCP/UDP.

use std::net::{IpAddr, SocketAddr};

use etherparse::{EtherType, NetSlice, SlicedPacket, TransportSlice};
use pcap_file::DataLink;

/// A TCP segment or UDP datagram with its endpoints.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Segment<'a> {
    /// Sender.
    pub src: SocketAddr,
    /// Receiver.
    pub dst: SocketAddr,
    /// Transport header facts and payload.
    pub kind: SegmentKind<'a>,
}

/// The transport of a [`Segment`].
#[derive(Debug, Clone, Copy)]
pub(crate) enum SegmentKind<'a> {
    /// A UDP datagram's payload.
    Udp(&'a [u8]),
    /// A TCP segment.
    Tcp(TcpSeg<'a>),
}

/// The parts of a TCP segment that reassembly needs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TcpSeg<'a> {
    /// Sequence number of the first payload byte (of the SYN when `syn`).
    pub seq: u32,
    /// SYN flag.
    pub syn: bool,
    /// FIN flag.
    pub fin: bool,
    /// RST flag.
    pub rst: bool,
    /// Payload.
    pub payload: &'a [u8],
}

/// Why a packet carries no TCP or UDP segment parley can use. Counted in the summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Skip {
    /// A link type replay does not decode.
    LinkType,
    /// Not IPv4/IPv6 (ARP, LLDP…), or an IP protocol other than TCP/UDP.
    NotTcpUdp,
    /// An IP fragment (fragments are not reassembled).
    IpFragment,
    /// Headers cut off by the snap length or malformed.
    Malformed,
}

impl Skip {
    /// Summary key.
    pub fn as_str(&self) -> &'static str {
        match self {
            Skip::LinkType => "unsupported link type",
            Skip::NotTcpUdp => "not TCP/UDP over IP",
            Skip::IpFragment => "IP fragment (not reassembled)",
            Skip::Malformed => "malformed or truncated headers",
        }
    }
}

/// Linux cooked capture v1 header length, and where its protocol type is.
const SLL_LEN: usize = 16;
const SLL_PROTO: usize = 14;
/// Linux cooked capture v2 header length (the protocol type comes first).
const SLL2_LEN: usize = 20;

/// A Linux cooked header of `len` bytes with the EtherType at `proto`, then the packet.
fn cooked(
    data: &[u8],
    proto: usize,
    len: usize,
) -> Result<Result<SlicedPacket<'_>, etherparse::err::packet::SliceError>, Skip> {
    let (Some(p), Some(rest)) = (data.get(proto..proto + 2), data.get(len..)) else {
        return Err(Skip::Malformed);
    };
    Ok(SlicedPacket::from_ether_type(
        EtherType(u16::from_be_bytes([p[0], p[1]])),
        rest,
    ))
}

/// Decode one packet of link type `link`.
pub(crate) fn decode(link: DataLink, data: &[u8]) -> Result<Segment<'_>, Skip> {
    let sliced = match link {
        DataLink::ETHERNET => SlicedPacket::from_ethernet(data),
        // The cooked headers are read here: etherparse accepts SLL only with ARPHRD_ETHER,
        // while `-i any` captures of the loopback carry ARPHRD_LOOPBACK. The protocol field
        // is an EtherType for both.
        DataLink::LINUX_SLL => cooked(data, SLL_PROTO, SLL_LEN)?,
        DataLink::LINUX_SLL2 => cooked(data, 0, SLL2_LEN)?,
        DataLink::RAW | DataLink::IPV4 | DataLink::IPV6 => SlicedPacket::from_ip(data),
        // BSD loopback: a 4-byte address family (host order for NULL, network order for LOOP).
        DataLink::NULL | DataLink::LOOP => {
            let rest = data.get(4..).ok_or(Skip::Malformed)?;
            SlicedPacket::from_ip(rest)
        }
        _ => return Err(Skip::LinkType),
    }
    .map_err(|_| Skip::Malformed)?;
    let (src_ip, dst_ip, fragmented) = match &sliced.net {
        Some(NetSlice::Ipv4(ip)) => (
            IpAddr::V4(ip.header().source_addr()),
            IpAddr::V4(ip.header().destination_addr()),
            ip.is_payload_fragmented(),
        ),
        Some(NetSlice::Ipv6(ip)) => (
            IpAddr::V6(ip.header().source_addr()),
            IpAddr::V6(ip.header().destination_addr()),
            ip.is_payload_fragmented(),
        ),
        _ => return Err(Skip::NotTcpUdp),
    };
    if fragmented {
        return Err(Skip::IpFragment);
    }
    match sliced.transport {
        Some(TransportSlice::Udp(udp)) => Ok(Segment {
            src: SocketAddr::new(src_ip, udp.source_port()),
            dst: SocketAddr::new(dst_ip, udp.destination_port()),
            kind: SegmentKind::Udp(udp.payload()),
        }),
        Some(TransportSlice::Tcp(tcp)) => Ok(Segment {
            src: SocketAddr::new(src_ip, tcp.source_port()),
            dst: SocketAddr::new(dst_ip, tcp.destination_port()),
            kind: SegmentKind::Tcp(TcpSeg {
                seq: tcp.sequence_number(),
                syn: tcp.syn(),
                fin: tcp.fin(),
                rst: tcp.rst(),
                payload: tcp.payload(),
            }),
        }),
        _ => Err(Skip::NotTcpUdp),
    }
}

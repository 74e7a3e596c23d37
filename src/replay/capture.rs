//! Capture files: classic pcap (microsecond and nanosecond, either byte order) and pcapng
//! (several sections and interfaces, each with its own link type and timestamp resolution).
//!
//! The file format is read by `pcap-file`; this module only turns each packet record into a
//! [`Packet`] (link type, timestamp in nanoseconds, captured bytes) and hands it to a callback,
//! borrowing the record's bytes.

use std::fmt;
use std::io::{BufRead, BufReader, Read};

use pcap_file::DataLink;
use pcap_file::pcap::PcapReader;
use pcap_file::pcapng::blocks::interface_description::InterfaceDescriptionOption;
use pcap_file::pcapng::{Block, PcapNgReader};
use pcap_file::{PcapError, TsResolution};

/// One captured packet, borrowed from the file reader.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Packet<'a> {
    /// Nanoseconds since the Unix epoch (as recorded).
    pub ts_ns: u64,
    /// Link type of the interface the packet was captured on.
    pub link: DataLink,
    /// Interface index (0 for classic pcap).
    pub iface: u32,
    /// Captured bytes (possibly cut by the snap length).
    pub data: &'a [u8],
}

/// Why a capture could not be read (to the end).
#[derive(Debug)]
pub enum CaptureError {
    /// The file starts with neither a pcap nor a pcapng magic number.
    NotACapture,
    /// The file header or a record is malformed, or the file ends inside a record.
    Format(String),
    /// Reading the file failed.
    Io(std::io::Error),
}

impl fmt::Display for CaptureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CaptureError::NotACapture => f.write_str("not a pcap or pcapng file"),
            CaptureError::Format(e) => write!(f, "malformed capture: {e}"),
            CaptureError::Io(e) => write!(f, "read error: {e}"),
        }
    }
}

impl std::error::Error for CaptureError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            CaptureError::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<PcapError> for CaptureError {
    fn from(e: PcapError) -> Self {
        match e {
            PcapError::IoError(e) => CaptureError::Io(e),
            other => CaptureError::Format(other.to_string()),
        }
    }
}

/// An interface of a pcapng section: its link type and timestamp units per second.
#[derive(Debug, Clone, Copy)]
struct Iface {
    link: DataLink,
    units_per_sec: u64,
}

/// Read every packet of `input` in file order and call `each` with it.
///
/// Returns the number of packets read. A record cut off at the end of the file is an error
/// (the packets before it have been delivered).
pub(crate) fn for_each_packet<R: Read>(
    input: R,
    mut each: impl FnMut(Packet<'_>),
) -> Result<u64, CaptureError> {
    let mut input = BufReader::with_capacity(256 * 1024, input);
    let magic = {
        let head = input.fill_buf().map_err(CaptureError::Io)?;
        head.get(..4).map(|m| [m[0], m[1], m[2], m[3]])
    };
    match magic {
        Some([0x0a, 0x0d, 0x0d, 0x0a]) => read_pcapng(input, &mut each),
        Some(m)
            if matches!(
                u32::from_le_bytes(m),
                0xa1b2_c3d4 | 0xd4c3_b2a1 | 0xa1b2_3c4d | 0x4d3c_b2a1
            ) =>
        {
            read_pcap(input, &mut each)
        }
        _ => Err(CaptureError::NotACapture),
    }
}

fn read_pcap<R: Read>(input: R, each: &mut impl FnMut(Packet<'_>)) -> Result<u64, CaptureError> {
    let mut reader = PcapReader::new(input)?;
    let header = reader.header();
    let frac_ns: u64 = match header.ts_resolution {
        TsResolution::MicroSecond => 1_000,
        TsResolution::NanoSecond => 1,
    };
    let mut count = 0;
    // Raw records: the crate's validated packets reject `orig_len > snaplen`, which is what
    // every capture taken with a small snap length looks like.
    while let Some(raw) = reader.next_raw_packet() {
        let raw = raw?;
        count += 1;
        each(Packet {
            ts_ns: u64::from(raw.ts_sec) * 1_000_000_000 + u64::from(raw.ts_frac) * frac_ns,
            link: header.datalink,
            iface: 0,
            data: &raw.data,
        });
    }
    Ok(count)
}

fn read_pcapng<R: Read>(input: R, each: &mut impl FnMut(Packet<'_>)) -> Result<u64, CaptureError> {
    let mut reader = PcapNgReader::new(input)?;
    let mut ifaces: Vec<Iface> = Vec::new();
    let mut last_ts = 0;
    let mut count = 0;
    while let Some(block) = reader.next_block() {
        match block? {
            Block::SectionHeader(_) => ifaces.clear(),
            Block::InterfaceDescription(idb) => {
                let units_per_sec = idb
                    .options
                    .iter()
                    .find_map(|o| match o {
                        InterfaceDescriptionOption::IfTsResol(r) => Some(ts_units(*r)),
                        _ => None,
                    })
                    .unwrap_or(1_000_000);
                ifaces.push(Iface {
                    link: idb.linktype,
                    units_per_sec,
                });
            }
            Block::EnhancedPacket(epb) => {
                let Some(iface) = ifaces.get(epb.interface_id as usize) else {
                    return Err(CaptureError::Format(format!(
                        "packet on undeclared interface {}",
                        epb.interface_id
                    )));
                };
                // pcap-file keeps the raw 64-bit timestamp in the Duration's nanoseconds;
                // its unit is the interface's if_tsresol.
                let raw = u64::try_from(epb.timestamp.as_nanos()).unwrap_or(u64::MAX);
                last_ts = scale_to_ns(raw, iface.units_per_sec);
                count += 1;
                each(Packet {
                    ts_ns: last_ts,
                    link: iface.link,
                    iface: epb.interface_id,
                    data: &epb.data,
                });
            }
            Block::SimplePacket(spb) => {
                let Some(iface) = ifaces.first() else {
                    return Err(CaptureError::Format(
                        "simple packet before any interface".into(),
                    ));
                };
                count += 1;
                // No timestamp of its own: it keeps the previous packet's.
                each(Packet {
                    ts_ns: last_ts,
                    link: iface.link,
                    iface: 0,
                    data: &spb.data,
                });
            }
            _ => {}
        }
    }
    Ok(count)
}

/// Timestamp units per second for an `if_tsresol` value (pcapng §4.2): the high bit selects
/// a power of two, otherwise a power of ten. Resolutions finer than 1 ns are clamped.
fn ts_units(r: u8) -> u64 {
    let exp = u32::from(r & 0x7f);
    if r & 0x80 != 0 {
        1u64.checked_shl(exp).unwrap_or(1 << 63)
    } else {
        10u64.checked_pow(exp).unwrap_or(u64::MAX)
    }
}

fn scale_to_ns(raw: u64, units_per_sec: u64) -> u64 {
    let ns = u128::from(raw) * 1_000_000_000 / u128::from(units_per_sec.max(1));
    u64::try_from(ns).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tsresol_units() {
        assert_eq!(ts_units(6), 1_000_000);
        assert_eq!(ts_units(9), 1_000_000_000);
        assert_eq!(ts_units(0x80 | 10), 1024);
        assert_eq!(scale_to_ns(1_500_000, 1_000_000), 1_500_000_000);
        assert_eq!(scale_to_ns(3, 1_000_000_000), 3);
    }

    #[test]
    fn rejects_non_captures() {
        let r = for_each_packet(&b"hello world"[..], |_| {});
        assert!(matches!(r, Err(CaptureError::NotACapture)));
        let r = for_each_packet(&b""[..], |_| {});
        assert!(matches!(r, Err(CaptureError::NotACapture)));
    }
}

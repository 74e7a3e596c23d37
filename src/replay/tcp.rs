//! TCP reassembly of one direction of a connection (RFC 9293 §3.4 sequence space).
//!
//! Segments arrive in capture order, which is not always sequence order: a segment that starts
//! beyond the next expected byte waits in a bounded out-of-order store; a retransmitted segment
//! is dropped; an overlapping one contributes only its new bytes (the first copy wins, like most
//! receivers). When the store is over its bound, or at FIN/RST/end of capture, the missing bytes
//! are skipped and reported as a gap, so the consumer can resynchronise.

use std::collections::BTreeMap;

/// What reassembly hands on, in stream order.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Chunk<'a> {
    /// The next contiguous bytes.
    Data(&'a [u8]),
    /// This many bytes are missing before the next chunk.
    Gap(u64),
}

/// Counters for one direction.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DirStats {
    /// Bytes of segments that were entirely already delivered.
    pub retransmitted: u64,
    /// Bytes of partially new segments that were already delivered.
    pub overlapped: u64,
    /// Gaps skipped.
    pub gaps: u64,
    /// Bytes missing in those gaps.
    pub missing: u64,
}

/// One direction's reassembly state.
#[derive(Debug)]
pub(crate) struct Reassembler {
    /// Sequence number of stream offset 0.
    base: Option<u32>,
    /// Offset of the next byte to deliver.
    next: u64,
    /// Out-of-order segments by offset.
    pending: BTreeMap<u64, Vec<u8>>,
    pending_bytes: usize,
    max_pending: usize,
    /// Offset just after the last byte, once a FIN was seen.
    fin: Option<u64>,
    /// Counters.
    pub stats: DirStats,
}

impl Reassembler {
    /// A direction whose out-of-order store holds at most `max_pending` bytes.
    pub fn new(max_pending: usize) -> Self {
        Reassembler {
            base: None,
            next: 0,
            pending: BTreeMap::new(),
            pending_bytes: 0,
            max_pending,
            fin: None,
            stats: DirStats::default(),
        }
    }

    /// A SYN with sequence number `seq`. Returns false when it contradicts the stream already
    /// seen (a new connection reusing the address pair).
    pub fn syn(&mut self, seq: u32) -> bool {
        let start = seq.wrapping_add(1);
        match self.base {
            None => {
                self.base = Some(start);
                true
            }
            Some(b) => b == start,
        }
    }

    /// Whether a SYN with sequence number `seq` is the one this direction started with.
    pub fn syn_matches(&self, seq: u32) -> bool {
        self.base == Some(seq.wrapping_add(1))
    }

    /// Whether anything was seen in this direction.
    pub fn started(&self) -> bool {
        self.base.is_some()
    }

    /// A segment whose first payload byte has sequence number `seq` (for a SYN, `seq + 1`).
    pub fn segment(&mut self, seq: u32, payload: &[u8], fin: bool, out: &mut dyn FnMut(Chunk<'_>)) {
        let base = *self.base.get_or_insert(seq);
        let expected = base.wrapping_add(self.next as u32);
        let off = self.next as i64 + i64::from(seq.wrapping_sub(expected) as i32);
        let end = off + payload.len() as i64;
        if fin && end >= 0 {
            self.fin = Some(end as u64);
        }
        if payload.is_empty() {
            return;
        }
        if end <= self.next as i64 {
            self.stats.retransmitted += payload.len() as u64;
            return;
        }
        if off <= self.next as i64 {
            let skip = (self.next as i64 - off) as usize;
            self.stats.overlapped += skip as u64;
            out(Chunk::Data(&payload[skip..]));
            self.next = end as u64;
            self.drain(out);
            return;
        }
        let off = off as u64;
        match self.pending.get(&off) {
            Some(have) if have.len() >= payload.len() => {
                self.stats.retransmitted += payload.len() as u64;
                return;
            }
            Some(have) => self.pending_bytes -= have.len(),
            None => {}
        }
        self.pending_bytes += payload.len();
        self.pending.insert(off, payload.to_vec());
        while self.pending_bytes > self.max_pending {
            self.skip_to_pending(out);
        }
    }

    /// Deliver everything still held, reporting the holes (FIN, RST, end of capture).
    pub fn flush(&mut self, out: &mut dyn FnMut(Chunk<'_>)) {
        while !self.pending.is_empty() {
            self.skip_to_pending(out);
        }
        if let Some(fin) = self.fin
            && fin > self.next
        {
            self.gap(fin - self.next, out);
            self.next = fin;
        }
    }

    /// Skip the hole before the first held segment, then deliver what became contiguous.
    fn skip_to_pending(&mut self, out: &mut dyn FnMut(Chunk<'_>)) {
        if let Some((&k, _)) = self.pending.first_key_value()
            && k > self.next
        {
            self.gap(k - self.next, out);
            self.next = k;
        }
        self.drain(out);
    }

    fn gap(&mut self, n: u64, out: &mut dyn FnMut(Chunk<'_>)) {
        self.stats.gaps += 1;
        self.stats.missing += n;
        out(Chunk::Gap(n));
    }

    /// Deliver held segments that now start at or before `next`.
    fn drain(&mut self, out: &mut dyn FnMut(Chunk<'_>)) {
        while let Some(entry) = self.pending.first_entry() {
            let k = *entry.key();
            if k > self.next {
                break;
            }
            let data = entry.remove();
            self.pending_bytes -= data.len();
            let end = k + data.len() as u64;
            if end <= self.next {
                self.stats.retransmitted += data.len() as u64;
                continue;
            }
            let skip = (self.next - k) as usize;
            self.stats.overlapped += skip as u64;
            out(Chunk::Data(&data[skip..]));
            self.next = end;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feed `(seq, payload)` segments and flush; returns the stream with gaps as `#n#`.
    fn run(max: usize, syn: Option<u32>, segs: &[(u32, &str)]) -> (String, DirStats) {
        let mut r = Reassembler::new(max);
        if let Some(s) = syn {
            assert!(r.syn(s));
        }
        let mut got = String::new();
        let mut sink = |c: Chunk<'_>| match c {
            Chunk::Data(d) => got.push_str(std::str::from_utf8(d).unwrap()),
            Chunk::Gap(n) => got.push_str(&format!("#{n}#")),
        };
        for (seq, p) in segs {
            r.segment(*seq, p.as_bytes(), false, &mut sink);
        }
        r.flush(&mut sink);
        (got, r.stats)
    }

    /// (name, SYN sequence number, segments, expected stream)
    type Case<'a> = (&'a str, Option<u32>, &'a [(u32, &'a str)], &'a str);

    #[test]
    fn table() {
        let cases: &[Case<'_>] = &[
            (
                "in order",
                Some(99),
                &[(100, "abc"), (103, "def")],
                "abcdef",
            ),
            (
                "reordered",
                Some(99),
                &[(103, "def"), (100, "abc")],
                "abcdef",
            ),
            (
                "duplicate",
                Some(99),
                &[(100, "abc"), (100, "abc"), (103, "def")],
                "abcdef",
            ),
            (
                "overlap",
                Some(99),
                &[(100, "abcd"), (102, "cdef"), (106, "g")],
                "abcdefg",
            ),
            (
                "missing",
                Some(99),
                &[(100, "abc"), (106, "ghi")],
                "abc#3#ghi",
            ),
            ("no syn", None, &[(5000, "abc"), (5003, "d")], "abcd"),
            (
                "wraps",
                Some(u32::MAX - 2),
                &[(u32::MAX - 1, "ab"), (0, "cd"), (2, "e")],
                "abcde",
            ),
            (
                "held overlap",
                Some(0),
                &[(6, "fgh"), (4, "defghij"), (1, "abcd")],
                "abcdefghij",
            ),
        ];
        for (name, syn, segs, want) in cases {
            assert_eq!(run(1 << 20, *syn, segs).0, *want, "{name}");
        }
    }

    #[test]
    fn stats_count_duplicates_and_gaps() {
        let (_, s) = run(
            1 << 20,
            Some(0),
            &[(1, "ab"), (1, "ab"), (2, "bc"), (10, "x")],
        );
        assert_eq!(s.retransmitted, 2);
        assert_eq!(s.overlapped, 1);
        assert_eq!(s.gaps, 1);
        assert_eq!(s.missing, 6);
    }

    #[test]
    fn bounded_store_skips_the_hole() {
        let mut r = Reassembler::new(4);
        r.syn(0);
        let mut got = Vec::new();
        r.segment(11, b"abc", false, &mut |c| got.push(format!("{c:?}")));
        assert!(got.is_empty());
        r.segment(14, b"de", false, &mut |c| got.push(format!("{c:?}")));
        // Over the 4-byte bound: the 10 missing bytes are given up.
        assert_eq!(got.len(), 3);
        assert!(got[0].contains("Gap(10)"));
    }

    #[test]
    fn fin_after_missing_tail_is_a_gap() {
        let mut r = Reassembler::new(100);
        r.syn(0);
        let mut got = Vec::new();
        let mut sink = |c: Chunk<'_>| got.push(format!("{c:?}"));
        r.segment(1, b"ab", false, &mut sink);
        r.segment(6, b"", true, &mut sink);
        r.flush(&mut sink);
        assert_eq!(got.last().unwrap(), "Gap(3)");
    }

    #[test]
    fn new_connection_on_same_pair() {
        let mut r = Reassembler::new(100);
        assert!(r.syn(10));
        assert!(r.syn(10));
        assert!(!r.syn(5000));
    }
}

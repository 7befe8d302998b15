//! Finds candidate containers at any offset: one Aho-Corasick pass over the
//! bytes for every format's magic. Candidates are only hints; each format
//! validates its header before anything is trusted.

use super::formats::{FORMATS, Format};
use aho_corasick::AhoCorasick;
use std::collections::VecDeque;
use std::sync::LazyLock;

struct Magics {
    automaton: AhoCorasick,
    /// Pattern id -> format.
    owners: Vec<&'static dyn Format>,
    /// The largest [`Format::magic_offset`].
    max_magic_offset: usize,
}

static MAGICS: LazyLock<Magics> = LazyLock::new(|| {
    let mut patterns: Vec<&'static [u8]> = Vec::new();
    let mut owners = Vec::new();
    for format in FORMATS {
        for magic in format.magics() {
            patterns.push(magic);
            owners.push(*format);
        }
    }
    let automaton = AhoCorasick::new(patterns).expect("format magics form a valid automaton");
    let max_magic_offset = FORMATS.iter().map(|f| f.magic_offset()).max().unwrap_or(0);
    Magics {
        automaton,
        owners,
        max_magic_offset,
    }
});

/// Buffers longer than this are scanned in slices of this size on every core.
const SLICE: usize = 4 << 20;
/// The first scan of a buffer covers this much; each next one twice as much
/// (up to a slice per core): when a container at the start claims the whole
/// buffer, as a file system image or a compressed file does, little more
/// than its header is ever scanned.
const FIRST_BATCH: usize = 64 << 10;

/// Every offset where some format's container may start, in offset order
/// (a magic found too close to the start for its offset is dropped).
pub fn candidates(data: &[u8]) -> Vec<(usize, &'static dyn Format)> {
    let mut all = Candidates::new(data);
    std::iter::from_fn(|| all.next_from(0)).collect()
}

/// The candidates of one buffer, found as they are asked for: a container
/// that claims a range lets the carver skip it, and the bytes skipped are
/// never scanned (a file system image that fills its file is scanned for
/// its first [`FIRST_BATCH`] bytes, not for its whole size). Yields what [`candidates`]
/// lists, in the same order, less those before the position asked from.
pub struct Candidates<'a> {
    data: &'a [u8],
    slice: usize,
    /// Every match ending at or before this position is in `pending` (or was
    /// passed over).
    scanned: usize,
    /// Found and not yet yielded, in offset order.
    pending: VecDeque<(usize, &'static dyn Format)>,
    /// Bytes the next scan may cover (see [`FIRST_BATCH`]).
    batch: usize,
}

impl<'a> Candidates<'a> {
    pub fn new(data: &'a [u8]) -> Candidates<'a> {
        Candidates::with_slice(data, SLICE)
    }

    fn with_slice(data: &'a [u8], slice: usize) -> Candidates<'a> {
        Candidates {
            data,
            slice: slice.max(1),
            scanned: 0,
            pending: VecDeque::new(),
            batch: FIRST_BATCH,
        }
    }

    /// The next candidate at offset `pos` or later; `pos` must not decrease
    /// from one call to the next.
    pub fn next_from(&mut self, pos: usize) -> Option<(usize, &'static dyn Format)> {
        let magics = &*MAGICS;
        // A match not found yet ends after `scanned`, so it starts after
        // `scanned - longest` and its container after that less the largest
        // magic offset: pending candidates before that are final.
        let reach = magics.automaton.max_pattern_len() + magics.max_magic_offset;
        loop {
            while self
                .pending
                .front()
                .is_some_and(|(offset, _)| *offset < pos)
            {
                self.pending.pop_front();
            }
            let done = self.scanned >= self.data.len();
            match self.pending.front() {
                Some(&(offset, _)) if done || offset + reach <= self.scanned => {
                    return self.pending.pop_front();
                }
                None if done => return None,
                _ => {}
            }
            // Matches ending at or before `pos` start before it: skip them.
            // (Pending candidates all start before `scanned`, so when `pos`
            // is past it none is left.)
            self.scanned = self.scanned.max(pos.min(self.data.len()));
            self.scan_batch();
        }
    }

    /// Scans the next slices, one per core, and files what they found.
    fn scan_batch(&mut self) {
        use rayon::prelude::*;
        let from = self.scanned;
        let most = self
            .slice
            .saturating_mul(rayon::current_num_threads().max(1));
        let batch = self.batch.min(most);
        self.batch = batch.saturating_mul(2);
        let to = from.saturating_add(batch).min(self.data.len());
        let starts: Vec<usize> = (from..to).step_by(self.slice).collect();
        let found: Vec<Vec<(usize, &'static dyn Format)>> = if starts.len() <= 1 {
            vec![scan(self.data, from, to)]
        } else {
            starts
                .par_iter()
                .map(|&at| scan(self.data, at, at.saturating_add(self.slice).min(to)))
                .collect()
        };
        self.scanned = to;
        let mut all: Vec<_> = self.pending.drain(..).collect();
        all.extend(found.into_iter().flatten());
        // Only formats with a magic offset can be out of order; keep ties
        // stable, as one pass over all the bytes would.
        all.sort_by_key(|(offset, _)| *offset);
        self.pending = all.into();
    }
}

/// The candidates of the matches that end in `from+1..=to`, in the order one
/// pass over all of `data` finds them: the search starts early enough (the
/// longest magic, less one byte) that the automaton is in the same state at
/// each end position as in that pass.
fn scan(data: &[u8], from: usize, to: usize) -> Vec<(usize, &'static dyn Format)> {
    let magics = &*MAGICS;
    let window = (from + 1).saturating_sub(magics.automaton.max_pattern_len());
    magics
        .automaton
        .find_overlapping_iter(&data[window..to])
        .filter(|m| window + m.end() > from)
        .filter_map(|m| {
            let format = magics.owners[m.pattern().as_usize()];
            Some((
                (window + m.start()).checked_sub(format.magic_offset())?,
                format,
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_magics_in_offset_order() {
        let mut data = vec![0u8; 100];
        data[10..14].copy_from_slice(b"hsqs");
        data[50..53].copy_from_slice(&[0x1f, 0x8b, 0x08]);
        data[70..74].copy_from_slice(&[0x27, 0x05, 0x19, 0x56]);
        let found: Vec<_> = candidates(&data)
            .iter()
            .map(|(o, f)| (*o, f.name()))
            .collect();
        assert_eq!(found, vec![(10, "squashfs"), (50, "gzip"), (70, "uimage")]);
    }

    #[test]
    fn slices_find_what_one_pass_finds_in_the_same_order() {
        // Magics planted densely, across slice boundaries, overlapping, and
        // with tar's magic offset, in pseudo-random filler.
        let mut data = Vec::new();
        let mut x = 0x9e37_79b9u32;
        for i in 0..20_000u32 {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            match x % 11 {
                0 => data.extend_from_slice(b"hsqs"),
                1 => data.extend_from_slice(&[0x1f, 0x8b, 0x08]),
                2 => data.extend_from_slice(b"ustar"),
                3 => data.extend_from_slice(&[0x78, 0x9c]),
                4 => data.extend_from_slice(b"070701"),
                5 => data.extend_from_slice(&[0x5d, 0, 0]),
                _ => data.push(((x >> 8) ^ i) as u8),
            }
        }
        let name = |v: Vec<(usize, &'static dyn Format)>| -> Vec<(usize, &'static str)> {
            v.into_iter().map(|(o, f)| (o, f.name())).collect()
        };
        // Claims a range now and then, as an extracted container does.
        let carve = |slice: usize, skip: usize| {
            let mut c = Candidates::with_slice(&data, slice);
            let mut out = Vec::new();
            let mut pos = 0;
            while let Some(found) = c.next_from(pos) {
                out.push(found);
                if skip > 0 && out.len() % 7 == 0 {
                    pos = found.0 + skip;
                }
            }
            name(out)
        };
        // The reference: one pass, then the carver's `offset < pos` filter.
        let one_pass = |skip: usize| {
            let mut all = Vec::new();
            let magics = &*MAGICS;
            for m in magics.automaton.find_overlapping_iter(&data) {
                let format = magics.owners[m.pattern().as_usize()];
                if let Some(o) = m.start().checked_sub(format.magic_offset()) {
                    all.push((o, format));
                }
            }
            all.sort_by_key(|(o, _)| *o);
            let mut out = Vec::new();
            let mut pos = 0;
            for found in all {
                if found.0 < pos {
                    continue;
                }
                out.push(found);
                if skip > 0 && out.len() % 7 == 0 {
                    pos = found.0 + skip;
                }
            }
            name(out)
        };
        let whole = one_pass(0);
        assert!(whole.len() > 1000);
        assert_eq!(name(candidates(&data)), whole);
        for skip in [0, 1, 5, 300, 4000] {
            let expected = one_pass(skip);
            for slice in [1, 2, 3, 7, 64, 257, 1000, usize::MAX] {
                assert_eq!(carve(slice, skip), expected, "slice {slice} skip {skip}");
            }
        }
    }
}

//! Finds candidate containers at any offset: one Aho-Corasick pass over the
//! bytes for every format's magic. Candidates are only hints; each format
//! validates its header before anything is trusted.

use super::formats::{FORMATS, Format};
use aho_corasick::AhoCorasick;
use std::sync::LazyLock;

struct Magics {
    automaton: AhoCorasick,
    /// Pattern id -> format.
    owners: Vec<&'static dyn Format>,
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
    Magics { automaton, owners }
});

/// Every offset where some format's container may start, in offset order
/// (a magic found too close to the start for its offset is dropped).
pub fn candidates(data: &[u8]) -> Vec<(usize, &'static dyn Format)> {
    let magics = &*MAGICS;
    let mut found: Vec<(usize, &'static dyn Format)> = magics
        .automaton
        .find_overlapping_iter(data)
        .filter_map(|m| {
            let format = magics.owners[m.pattern().as_usize()];
            Some((m.start().checked_sub(format.magic_offset())?, format))
        })
        .collect();
    // Only formats with a magic offset can be out of order; keep ties stable.
    found.sort_by_key(|(offset, _)| *offset);
    found
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
}

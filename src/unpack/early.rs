//! Members a reader hands over before it is done (see
//! [`Format::extract_early`]). A large member is examined on another core
//! while the reader goes on: a solid archive's decode and the decode of a
//! compressed member inside it (a 7z holding `kernel.lzma`) then overlap
//! instead of adding up. The result is the same as examining the member
//! after the reader returns; only when it happens changes.

use super::formats::{Entry, Extracted, Format, Rejection};
use super::limits::Budget;
use super::tree::EntryKind;
use super::{Part, VirtualFile, examine, extract_contained, member_path};
use std::ops::Range;
use std::sync::Mutex;

/// Members at least this large are examined early; a smaller one costs less
/// to examine afterwards than to copy and hand to another core.
const EARLY_MIN: usize = 1 << 20;

/// One member examined early: its index among the reader's entries, what
/// examining it yielded, and the ranges of it left to scan.
pub(super) struct Examined {
    pub index: usize,
    pub part: Part,
    pub scan: Vec<Range<usize>>,
}

/// What a reader returned, with the members examined while it ran.
pub(super) struct Opened {
    pub extracted: Extracted,
    pub examined: Vec<Examined>,
}

/// Runs `format` on `data` as [`extract_contained`] does, examining each
/// large member it hands over at `depth` (the depth the layer's files get),
/// with `layer_path` the path the layer will have. The copies examined are
/// memory reserved from `budget` while they live.
pub(super) fn extract(
    format: &dyn Format,
    data: &[u8],
    budget: &mut Budget,
    layer_path: &str,
    depth: usize,
) -> (Result<Extracted, Rejection>, Vec<Examined>) {
    let shared = budget.fork();
    let done = Mutex::new(Vec::new());
    let result = rayon::scope(|scope| {
        let mut early = |index: usize, entry: &Entry| {
            if entry.kind != EntryKind::File || entry.data.len() < EARLY_MIN {
                return;
            }
            let Ok(held) = shared.reserve(entry.data.len() as u64) else {
                // No room for a copy: examined afterwards, as any member.
                return;
            };
            let mut file = VirtualFile {
                path: member_path(layer_path, &entry.path),
                fs: None,
                kind: EntryKind::File,
                data: entry.data.clone(),
                scan: Vec::new(),
                escape: None,
                meta: None,
            };
            let (shared, done) = (&shared, &done);
            scope.spawn(move |_| {
                let part = examine(&mut file, depth, shared);
                drop(file.data);
                drop(held);
                let examined = Examined {
                    index,
                    part,
                    scan: file.scan,
                };
                done.lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(examined);
            });
        };
        extract_contained(format, data.len(), budget, |b| {
            format.extract_early(data, b, &mut early)
        })
    });
    let done = done.into_inner().unwrap_or_else(|p| p.into_inner());
    (result, done)
}

#[cfg(test)]
mod tests {
    use super::EARLY_MIN;
    use crate::unpack::limits::Limits;
    use crate::unpack::{Unpacked, unpack_bytes};

    /// nested.7z (tests/fixtures/sevenzip.sh) holds a 1.3 MiB cpio, which
    /// the engine examines while the 7z decode goes on: that yields exactly
    /// what unpacking the member on its own yields, at the same place in
    /// the walk.
    #[test]
    fn a_member_examined_early_yields_what_it_yields_alone() {
        let archive = std::fs::read("tests/fixtures/7z/nested.7z").unwrap();
        let whole = unpack_bytes("n.7z", archive, &Limits::default());
        let cpio = "n.7z@0x0:7z/firmware/rootfs.cpio";
        let member = whole.files.iter().find(|f| f.path == cpio).unwrap();
        assert!(member.data.len() >= EARLY_MIN, "{}", member.data.len());
        let alone = unpack_bytes(cpio, member.data.clone(), &Limits::default());

        let layers = |u: &Unpacked| -> Vec<String> {
            u.layers
                .iter()
                .filter(|l| l.path.starts_with(cpio))
                .map(|l| format!("{} {}", l.path, l.size))
                .collect()
        };
        let files = |u: &Unpacked| -> Vec<String> {
            u.files
                .iter()
                .filter(|f| f.path.starts_with(cpio))
                .map(|f| format!("{} {} {:?}", f.path, f.data.len(), f.scan))
                .collect()
        };
        assert_eq!(
            layers(&whole),
            [
                format!("{cpio}@0x0:cpio 1305052"),
                format!("{cpio}@0x0:cpio/usr/share/doc/motd.gz@0x0:gzip 231"),
            ]
        );
        assert_eq!(layers(&whole), layers(&alone));
        assert_eq!(files(&whole), files(&alone));
        assert!(whole.notes.is_empty(), "{:?}", whole.notes);
        assert!(alone.notes.is_empty(), "{:?}", alone.notes);
    }
}

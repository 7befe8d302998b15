//! 7z archives, read with `sevenz-rust2` (LZMA, LZMA2, PPMd-less, BCJ
//! filters, deflate, bzip2). The 32-byte start header is checked first: its
//! CRC-32, and a next header that lies inside the input and is of sane size,
//! so the crate only ever sees a bounded archive. Sizes are checked against
//! the budget before each member is read, and no member is read past its
//! declared size. p7zip's Unix modes (high half of the attributes) are kept;
//! symlinks stored that way become links. An archive that needs a password
//! is a layer that says so.

use super::sevenzip_memory::Refusal;
use super::{Entry, Extracted, Format, Notes, Problem, Rejection, le32, le64};
use crate::unpack::limits::Budget;
use crate::unpack::tree::{EntryKind, Meta};
use sevenz_rust2::{ArchiveReader, Error, Password};
use std::io::{Cursor, Read};
use std::panic::{AssertUnwindSafe, catch_unwind};

pub struct SevenZip;

const MAGIC: &[u8] = b"7z\xbc\xaf\x27\x1c";
const START_HEADER: usize = 32;
const MAX_HEADER: u64 = 64 << 20;
/// `FILE_ATTRIBUTE_UNIX_EXTENSION`: the high 16 bits hold `st_mode`.
const UNIX_EXTENSION: u32 = 0x8000;

impl Format for SevenZip {
    fn name(&self) -> &'static str {
        "7z"
    }

    fn magics(&self) -> &'static [&'static [u8]] {
        &[MAGIC]
    }

    fn declared_len(&self, data: &[u8]) -> Option<u64> {
        let (offset, size) = (le64(data, 12)?, le64(data, 20)?);
        (START_HEADER as u64).checked_add(offset)?.checked_add(size)
    }

    fn extract(&self, data: &[u8], budget: &mut Budget) -> Result<Extracted, Rejection> {
        self.extract_early(data, budget, &mut |_, _| {})
    }

    fn hands_over_early(&self) -> bool {
        true
    }

    fn extract_early(
        &self,
        data: &[u8],
        budget: &mut Budget,
        early: &mut dyn FnMut(usize, &Entry),
    ) -> Result<Extracted, Rejection> {
        let head = data.get(..START_HEADER).ok_or(Rejection::NotThisFormat)?;
        if crc32fast::hash(&head[12..32]) != le32(head, 8).unwrap_or(0) {
            return Err(Rejection::NotThisFormat);
        }
        let end = self.declared_len(data).ok_or(Rejection::NotThisFormat)?;
        let header_len = le64(head, 20).unwrap_or(0);
        if header_len == 0 || header_len > MAX_HEADER {
            return Err(Rejection::Corrupt(format!(
                "7z next header of {header_len} bytes"
            )));
        }
        if end > data.len() as u64 {
            return Err(Rejection::Corrupt(format!(
                "7z archive is truncated: its header says {end} bytes, only {} present",
                data.len()
            )));
        }
        let image = &data[..end as usize];
        match catch_unwind(AssertUnwindSafe(|| read_all(image, budget, early))) {
            Ok(r) => r,
            Err(_) => Err(Rejection::Corrupt(
                "7z reader failed on malformed headers".into(),
            )),
        }
    }
}

/// The crate is built without its AES feature: an AES coder is reported as
/// an unsupported method, which here means "needs a password".
fn encrypted(e: &Error) -> bool {
    match e {
        Error::PasswordRequired | Error::MaybeBadPassword(_) => true,
        Error::UnsupportedCompressionMethod(m) => m.contains("AES"),
        _ => false,
    }
}

fn read_all(
    image: &[u8],
    budget: &mut Budget,
    early: &mut dyn FnMut(usize, &Entry),
) -> Result<Extracted, Rejection> {
    let mut out = Extracted {
        size: image.len() as u64,
        filesystem: true,
        ..Default::default()
    };
    // What the crate will allocate, asked of the budget before it sees the
    // archive (it trusts declared dictionary and header sizes).
    let next = &image[START_HEADER + le64(image, 12).unwrap_or(0) as usize..];
    let mut header_memory = None;
    let cost = super::sevenzip_memory::cost(image, next, &mut |n| {
        let r = budget.reserve(n).map_err(|bound| {
            format!("7z encoded header of {n} bytes to decode reaches {bound}; not opened")
        })?;
        header_memory = Some(r);
        Ok(())
    });
    let cost = match cost {
        Ok(cost) => cost,
        Err(Refusal::Budget(why)) => {
            out.notes.push(Problem::Limit(why));
            return Ok(out);
        }
        Err(Refusal::Corrupt(why)) => return Err(Rejection::Corrupt(why)),
    };
    let _decoders = match budget.reserve(cost.folder) {
        Ok(r) => r,
        Err(bound) => {
            out.notes.push(Problem::Limit(format!(
                "7z decoders need {} bytes (their dictionaries) and reach {bound}; not opened",
                cost.folder
            )));
            return Ok(out);
        }
    };
    let mut reader = match ArchiveReader::new(Cursor::new(image), Password::empty()) {
        Ok(r) => r,
        Err(e) if encrypted(&e) => {
            out.detail =
                Some("7z archive with encrypted headers (AES-256); no password to open it".into());
            return Ok(out);
        }
        Err(e) => return Err(Rejection::Corrupt(format!("7z headers unreadable: {e}"))),
    };
    // Files are already examined in parallel; the crate's own LZMA2 threads
    // would also escape the panic guard around this reader.
    reader.set_thread_count(1);
    drop(header_memory);
    let count = reader.archive().files.len();
    out.detail = Some(format!("7z, {count} entries"));
    let mut notes = Notes::default();
    let result = reader.for_each_entries(|entry, stream| {
        if let Err(bound) = budget.entry() {
            notes.push(Problem::Limit(format!(
                "7z: {bound} reached; the rest of its entries were skipped"
            )));
            return Ok(false);
        }
        let path = entry
            .name()
            .replace('\\', "/")
            .trim_start_matches("./")
            .trim_start_matches('/')
            .to_string();
        let mode = (entry.has_windows_attributes && entry.windows_attributes & UNIX_EXTENSION != 0)
            .then_some(entry.windows_attributes >> 16);
        let meta = mode.map(|m| Meta::new(m, 0, 0));
        let declared = entry.size();
        let mut contents = Vec::new();
        if entry.has_stream {
            if let Err(bound) = budget.charge_file(declared) {
                notes.push(Problem::Limit(format!(
                    "7z: /{path}: {declared} bytes reach {bound}; skipped"
                )));
                // The solid stream must still be read past this member.
                std::io::copy(&mut stream.take(declared), &mut std::io::sink())?;
                return Ok(true);
            }
            // Charged above, so the declared size is bounded: one buffer of
            // that size, not a doubling series of copies.
            contents.reserve_exact(declared as usize);
            stream.take(declared).read_to_end(&mut contents)?;
        }
        if path.is_empty() || entry.is_anti_item() {
            return Ok(true);
        }
        let kind = match mode.map(|m| m & 0o170000) {
            _ if entry.is_directory() => EntryKind::Dir,
            Some(0o120000) => EntryKind::Symlink(
                String::from_utf8_lossy(&std::mem::take(&mut contents)).into_owned(),
            ),
            _ => EntryKind::File,
        };
        let entry = Entry {
            path: path.trim_end_matches('/').to_string(),
            kind,
            data: contents,
            meta,
        };
        early(out.entries.len(), &entry);
        out.entries.push(entry);
        Ok(true)
    });
    match result {
        Ok(()) => {}
        Err(e) if encrypted(&e) => {
            out.detail = Some(format!(
                "7z, {count} entries, encrypted content (AES-256); no password to open it"
            ));
        }
        Err(e) => notes.push(Problem::Error(format!(
            "7z: {e}; {} entries read before it",
            out.entries.len()
        ))),
    }
    notes.finish("7z", &mut out.notes);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::unpack::formats::listing;
    use crate::unpack::limits::Limits;

    fn read(name: &str) -> Extracted {
        let data = std::fs::read(format!("tests/fixtures/7z/{name}.7z")).unwrap();
        SevenZip
            .extract(&data, &mut Budget::new(Limits::default()))
            .unwrap()
    }

    /// What `7z l -slt` lists for the p7zip fixtures (sevenzip.sh), modes included.
    #[test]
    fn p7zip_archives_read_back_with_modes_and_links() {
        let text = std::fs::read("tests/fixtures/text.txt").unwrap();
        for name in ["tree", "tree-bcj"] {
            let out = read(name);
            assert_eq!(out.detail.as_deref(), Some("7z, 6 entries"), "{name}");
            assert!(out.notes.is_empty(), "{name}: {:?}", out.notes);
            assert_eq!(
                listing(&out),
                [
                    "bin/",
                    "bin/busybox 17",
                    "bin/sh -> busybox",
                    "etc/",
                    "etc/hostname 7",
                    "etc/motd 3720"
                ],
                "{name}"
            );
            let get = |p: &str| out.entries.iter().find(|e| e.path == p).unwrap();
            assert_eq!(get("etc/motd").data, text, "{name}");
            let mode = |p: &str| get(p).meta.as_ref().map(|m| m.mode);
            assert_eq!(mode("bin/busybox"), Some(0o755), "{name}");
            assert_eq!(mode("etc/hostname"), Some(0o644), "{name}");
            assert_eq!(mode("bin"), Some(0o755), "{name}");
        }
    }

    #[test]
    fn password_protected_archives_say_so() {
        let out = read("tree-pass");
        assert_eq!(
            out.detail.as_deref(),
            Some("7z, 6 entries, encrypted content (AES-256); no password to open it")
        );
        assert!(out.entries.is_empty() && out.notes.is_empty());
        let out = read("tree-hidden");
        assert_eq!(
            out.detail.as_deref(),
            Some("7z archive with encrypted headers (AES-256); no password to open it")
        );
    }

    #[test]
    fn cuts_and_flips_never_panic() {
        let limits = Limits {
            max_total_bytes: 1 << 20,
            ..Limits::default()
        };
        for name in ["tree", "tree-bcj", "tree-pass"] {
            let data = std::fs::read(format!("tests/fixtures/7z/{name}.7z")).unwrap();
            for len in 0..data.len() {
                let _ = SevenZip.extract(&data[..len], &mut Budget::new(limits.clone()));
            }
            let mut state = 0x9e37_79b9_7f4a_7c15u64;
            for _ in 0..2000 {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let mut bad = data.clone();
                let at = (state % data.len() as u64) as usize;
                bad[at] ^= 1 << (state >> 61);
                let _ = SevenZip.extract(&bad, &mut Budget::new(limits.clone()));
            }
        }
    }
}

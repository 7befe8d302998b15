//! One file per container format. A format recognises itself by magic bytes,
//! validates its header before trusting it, and returns the entries it holds.
//! Adding a format is one new file plus one row in [`FORMATS`].

use super::limits::Budget;
use super::tree::{EntryKind, Meta};

pub mod android_boot;
pub mod android_payload;
pub mod android_super;
pub mod ar;
pub mod arcadyan;
pub mod arj;
pub mod bzip2;
pub mod cbfs;
pub mod cpio;
pub mod cramfs;
pub mod dlink_encrpted_img;
pub mod dlink_shrs;
pub mod dtb;
pub mod erofs;
pub mod erofs_z;
pub mod ext;
pub mod fat;
pub mod fit;
pub mod fmap;
pub mod gpt;
pub mod gzip;
pub mod ihex;
pub mod intel_microcode;
pub mod iso9660;
pub mod jffs2;
pub mod lz4;
pub mod lzma;
pub mod lzop;
pub mod matter_ota;
pub mod mbr;
pub mod option_rom;
pub mod qcow2;
pub mod romfs;
pub mod sealed;
pub mod sevenzip;
pub mod sevenzip_memory;
pub mod sparse;
pub mod squashfs;
pub mod squashfs_old;
pub mod srec;
pub mod tar;
pub mod trx;
pub mod ubi;
pub mod ubifs;
pub mod uefi;
pub mod uefi_capsule;
pub mod uimage;
pub mod xz;
pub mod yaffs2;
pub mod zip;
pub mod zlib;
pub mod zstd;

/// Every format the carver looks for.
pub static FORMATS: &[&dyn Format] = &[
    &dlink_shrs::DlinkShrs,
    &dlink_encrpted_img::DlinkEncrptedImg,
    &sealed::Luks,
    &sealed::OpensslSalted,
    &sealed::PgpArmor,
    &uimage::UImage,
    &matter_ota::MatterOta,
    &fit::Fit,
    &dtb::Dtb,
    &trx::Trx,
    &uefi::UefiFv,
    &option_rom::OptionRom,
    &sparse::Sparse,
    &android_boot::AndroidBoot,
    &android_boot::AndroidVendorBoot,
    &android_super::AndroidSuper,
    &android_payload::AndroidPayload,
    &qcow2::Qcow2,
    &gpt::Gpt,
    &mbr::Mbr,
    &fat::Fat,
    &squashfs::Squashfs,
    &squashfs_old::SquashfsVendor,
    &ext::Ext,
    &erofs::Erofs,
    &iso9660::Iso9660,
    &cramfs::Cramfs,
    &romfs::Romfs,
    &jffs2::Jffs2,
    &yaffs2::Yaffs2,
    &ubi::Ubi,
    &ubifs::Ubifs,
    &cpio::Cpio,
    &tar::Tar,
    &zip::Zip,
    &sevenzip::SevenZip,
    &ar::Ar,
    &ihex::IntelHex,
    &srec::Srec,
    &gzip::Gzip,
    &xz::Xz,
    &lzma::Lzma,
    &bzip2::Bzip2,
    &lzop::Lzop,
    &zstd::Zstd,
    &lz4::Lz4,
    &lz4::Lz4Legacy,
    &zlib::Zlib,
    &uefi_capsule::UefiCapsule,
    &intel_microcode::IntelMicrocode,
    &cbfs::Cbfs,
    &fmap::Fmap,
    &gpt::Gpt4k,
    &arj::Arj,
    &arcadyan::Arcadyan,
];

/// A container format.
pub trait Format: Sync {
    /// Short lower-case name used in layer paths (`squashfs`, `uimage`).
    fn name(&self) -> &'static str;
    /// Byte strings that start this format's header.
    fn magics(&self) -> &'static [&'static [u8]];
    /// Where the magic sits from the container's start (tar's `ustar` is at 257).
    fn magic_offset(&self) -> usize {
        0
    }
    /// Parses the container starting at `data[0]` (everything after it is
    /// also passed, since the container's size is only known from its header).
    fn extract(&self, data: &[u8], budget: &mut Budget) -> Result<Extracted, Rejection>;
    /// Where the container says it ends, read from its header alone and not
    /// validated: a hint that lets the carver start on the container after
    /// it meanwhile (see `examine` in `unpack/mod.rs`). `None` for formats
    /// whose size is only known once decoded.
    fn declared_len(&self, _data: &[u8]) -> Option<u64> {
        None
    }
    /// Whether the reader hands members over before it is done (see
    /// [`Format::extract_early`]); the engine then examines large ones
    /// while the reader goes on.
    fn hands_over_early(&self) -> bool {
        false
    }
    /// [`Format::extract`] for a reader whose members come whole out of one
    /// long decode (a solid 7z block): each member is passed to `early`,
    /// with the index it will have in [`Extracted::entries`], as soon as it
    /// is read, so that a compressed member's own decode can overlap the
    /// rest of the container's instead of following it.
    fn extract_early(
        &self,
        data: &[u8],
        budget: &mut Budget,
        _early: &mut dyn FnMut(usize, &Entry),
    ) -> Result<Extracted, Rejection> {
        self.extract(data, budget)
    }
}

/// What a container held.
#[derive(Debug, Default)]
pub struct Extracted {
    /// Bytes of the input the container occupies.
    pub size: u64,
    pub entries: Vec<Entry>,
    /// True for file systems: their entries get absolute paths and form a
    /// namespace for symlink and library resolution.
    pub filesystem: bool,
    /// True when the container's own bytes are code to identify rather than
    /// a wrapper (a legacy x86 option ROM): they stay in the parent's scan
    /// ranges instead of becoming an entry that would hold the same bytes.
    pub scanned_in_place: bool,
    /// Extra facts for the layer (`compression: xz`).
    pub detail: Option<String>,
    /// Problems met after the header was accepted: partial data was kept.
    pub notes: Vec<Problem>,
}

/// One entry of a container.
#[derive(Debug)]
pub struct Entry {
    /// Path inside the container, without a leading slash (`usr/lib/libz.so.1`, `kernel`).
    pub path: String,
    pub kind: EntryKind,
    pub data: Vec<u8>,
    /// Mode and owner, when the format stores them.
    pub meta: Option<Meta>,
}

/// A problem met inside a container whose header was accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// Corrupt or truncated data; message names what and where (offset relative to the layer).
    Error(String),
    /// A bound from [`super::limits::Limits`] was reached.
    Limit(String),
}

/// Why a candidate was not unpacked.
#[derive(Debug, PartialEq, Eq)]
pub enum Rejection {
    /// The magic matched by chance: not this format. Silent.
    NotThisFormat,
    /// The header is this format's but the container cannot be read.
    Corrupt(String),
    /// A bound was reached before anything could be extracted.
    Limit(String),
}

/// Reads a big-endian u16 at `at`, if in bounds.
pub fn be16(data: &[u8], at: usize) -> Option<u16> {
    data.get(at..at + 2)
        .map(|b| u16::from_be_bytes([b[0], b[1]]))
}

/// Reads a big-endian u32 at `at`, if in bounds.
pub fn be32(data: &[u8], at: usize) -> Option<u32> {
    data.get(at..at + 4)
        .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

/// Reads a big-endian u64 at `at`, if in bounds.
pub fn be64(data: &[u8], at: usize) -> Option<u64> {
    data.get(at..at + 8).map(|b| {
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        u64::from_be_bytes(a)
    })
}

/// Reads a little-endian u16 at `at`, if in bounds.
pub fn le16(data: &[u8], at: usize) -> Option<u16> {
    data.get(at..at + 2)
        .map(|b| u16::from_le_bytes([b[0], b[1]]))
}

/// Reads a little-endian u32 at `at`, if in bounds.
pub fn le32(data: &[u8], at: usize) -> Option<u32> {
    data.get(at..at + 4)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

/// Reads a little-endian u64 at `at`, if in bounds.
pub fn le64(data: &[u8], at: usize) -> Option<u64> {
    data.get(at..at + 8).map(|b| {
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        u64::from_le_bytes(a)
    })
}

/// Decodes a payload whose codec a container header names (uImage, FIT),
/// within the budget; problems go to `notes`, naming `what`. An unsupported
/// codec keeps the payload as it is (carving may still find a stream in it).
pub fn decode_payload(
    codec: &str,
    what: &str,
    part: &[u8],
    budget: &mut Budget,
    notes: &mut Vec<Problem>,
) -> Vec<u8> {
    use super::compress::{self, Codec};
    let cap = budget.output_cap(part.len() as u64);
    if codec == "zstd"
        && let Some(why) = compress::zstd_window_refusal(part, cap)
    {
        notes.push(Problem::Limit(format!(
            "{what} (zstd): {why}; payload dropped"
        )));
        return Vec::new();
    }
    // A payload kept as it is is a copy all the same: it counts against the
    // total like a stored tar or TRX member, so that a container repeating
    // one large uncompressed payload cannot grow the tree without bound.
    let keep =
        |budget: &mut Budget, notes: &mut Vec<Problem>| match budget.charge(part.len() as u64) {
            Ok(()) => part.to_vec(),
            Err(bound) => {
                notes.push(Problem::Limit(format!(
                    "{what}: {} bytes reach {bound}; payload dropped",
                    part.len()
                )));
                Vec::new()
            }
        };
    let codec_of = match codec {
        "none" => return keep(budget, notes),
        "gzip" => Codec::Gzip,
        "bzip2" => Codec::Bzip2,
        "lzma" => Codec::LzmaAlone,
        "xz" => Codec::Xz,
        "lz4" => Codec::Lz4Frame,
        "zstd" => Codec::Zstd,
        _ => {
            notes.push(Problem::Error(format!(
                "{what}: compression {codec} is not supported yet; payload kept as is"
            )));
            return keep(budget, notes);
        }
    };
    let mut decoded = compress::decode(codec_of, part, budget);
    if let Some(e) = &decoded.error {
        notes.push(Problem::Error(format!(
            "{what} ({codec}) is corrupt after {} output bytes: {e}",
            decoded.data.len()
        )));
    }
    if decoded.stopped() {
        notes.push(Problem::Limit(format!(
            "{what} ({codec}) stopped at {} bytes: {}",
            decoded.data.len(),
            gzip::stop_cause(&decoded, part.len(), budget)
        )));
    }
    if let Err(bound) = decoded.keep(budget) {
        notes.push(Problem::Limit(format!(
            "{what}: {} decoded bytes reach {bound}; payload dropped",
            decoded.data.len()
        )));
        return Vec::new();
    }
    decoded.data
}

/// The first 100 problems a file system reader meets, and a count of the
/// rest: a hostile image full of broken entries must not become millions of notes.
#[derive(Debug, Default)]
pub struct Notes {
    kept: Vec<Problem>,
    dropped: usize,
}

impl Notes {
    const MAX: usize = 100;

    pub fn push(&mut self, problem: Problem) {
        if self.kept.len() < Self::MAX {
            self.kept.push(problem);
        } else {
            self.dropped += 1;
        }
    }

    /// Moves the problems to `out`, with one line for those not kept.
    pub fn finish(self, format: &str, out: &mut Vec<Problem>) {
        out.extend(self.kept);
        if self.dropped > 0 {
            out.push(Problem::Error(format!(
                "{format}: {} more problems not listed",
                self.dropped
            )));
        }
    }
}

/// Sorted `path size`, `dir/` and `link -> target` lines of an archive's
/// entries: what the archive format tests compare against the real tools' output.
#[cfg(test)]
pub(crate) fn listing(out: &Extracted) -> Vec<String> {
    let mut v: Vec<String> = out
        .entries
        .iter()
        .map(|e| match &e.kind {
            EntryKind::Symlink(t) => format!("{} -> {t}", e.path),
            EntryKind::Dir => format!("{}/", e.path),
            _ => format!("{} {}", e.path, e.data.len()),
        })
        .collect();
    v.sort();
    v
}

/// A gzip'd fixture's bytes (test images that are mostly zeros or erased flash).
#[cfg(test)]
pub(crate) fn gunzip(gz: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(gz), &mut out)
        .expect("a gzip'd fixture");
    out
}

/// What [`listing`] gives for the file system fixtures built from one tree by
/// `tests/fixtures/make.sh` (cramfs, romfs; ext adds `lost+found` and two
/// sparse files).
#[cfg(test)]
pub(crate) fn fs_fixture_listing(ext: bool) -> Vec<String> {
    let mut v: Vec<String> = [
        "a/",
        "a/b/",
        "a/b/c/",
        "a/b/c/d/",
        "a/b/c/d/e/",
        "a/b/c/d/e/f/",
        "a/b/c/d/e/f/g/",
        "a/b/c/d/e/f/g/h/",
        "a/b/c/d/e/f/g/h/deep.txt 5",
        "bin/",
        "bin/ash 17",
        "bin/busybox 17",
        "bin/sh -> busybox",
        "boot/",
        "boot/initramfs.cpio.gz 187",
        "dev/",
        "dev/console 0",
        "etc/",
        "etc/hostname 7",
        "etc/motd 3720",
        "usr/",
        "usr/lib/",
        "usr/lib/libdemo.so.1 -> libdemo.so.1.0",
        "usr/lib/libdemo.so.1.0 21",
        "usr/share/",
        "usr/share/big.txt 11160",
        "usr/share/many/",
    ]
    .map(String::from)
    .into();
    v.push(format!(
        "usr/share/long-link -> ../lib/{}/target",
        "x".repeat(80)
    ));
    v.extend((1..=60).map(|i| format!("usr/share/many/entry-with-a-longish-name-{i:02} 3")));
    if ext {
        v.push("lost+found/".into());
        v.push("usr/share/fragments.bin 12288".into());
        v.push("usr/share/sparse.bin 309248".into());
    }
    v.sort();
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::unpack::limits::Limits;

    #[test]
    fn a_payload_kept_as_it_is_counts_against_the_total() {
        let mut budget = Budget::new(Limits {
            max_total_bytes: 10,
            ..Limits::default()
        });
        let mut notes = Vec::new();
        let part = [7u8; 6];
        assert_eq!(
            decode_payload("none", "image 0", &part, &mut budget, &mut notes),
            part
        );
        assert!(notes.is_empty());
        // 4 bytes are left: the second copy is dropped with a limit note.
        assert!(decode_payload("none", "image 1", &part, &mut budget, &mut notes).is_empty());
        assert_eq!(budget.remaining(), 4);
        assert!(matches!(&notes[..], [Problem::Limit(m)] if m.starts_with("image 1:")));
    }
}

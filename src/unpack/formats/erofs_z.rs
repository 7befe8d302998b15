//! EROFS compressed files (the kernel's `fs/erofs/zmap.c` and
//! `decompressor.c`; erofs-utils' `lib/zmap.c`): a file is cut into logical
//! clusters (lclusters) of one block, each described by an index entry, and
//! its data into physical clusters (pclusters) each of which decodes to one
//! extent. An index entry is a HEAD (an extent starts at `clusterofs` in this
//! lcluster, compressed), a PLAIN (the same, stored) or a NONHEAD (the
//! lcluster lies inside the extent of an earlier head). Indexes come in the
//! legacy form (8 bytes each) or compacted in packs of 2 (4 bytes each) or 16
//! (2 bytes each) entries ending with a base block address.
//!
//! Extents are decoded in order: each head's extent runs to the next head's
//! start (or the end of the file). Big pclusters record their block count in
//! the first NONHEAD after the head (`CBLKCNT`); tail packing keeps the last
//! extent's pcluster inline after the index. LZ4 and MicroLZMA (LZMA1 whose
//! first range-coder byte is replaced by the inverted properties byte)
//! pclusters are right-aligned after zero padding.
//!
//! Bounds: the file's size is checked against the output cap before
//! anything is decoded, every pcluster's output is reserved from the budget
//! before it is decoded, every index entry and pcluster is checked against
//! the image, and a pcluster decodes to exactly its extent or is an error.

use super::{le16, le32};
use crate::unpack::compress;
use crate::unpack::limits::{Budget, Reservation};

const PLAIN: u8 = 0;
const HEAD: u8 = 1;
const NONHEAD: u8 = 2;
/// Set in a NONHEAD's first field: the rest is the head's pcluster size in blocks.
const CBLKCNT: u16 = 1 << 11;
const ADVISE_COMPACTED_2B: u16 = 1;
const ADVISE_BIG_PCLUSTER_1: u16 = 2;
const ADVISE_BIG_PCLUSTER_2: u16 = 4;
const ADVISE_INLINE_PCLUSTER: u16 = 8;
const ALG_LZ4: u8 = 0;
const ALG_LZMA: u8 = 1;
/// The largest pcluster EROFS allows (`Z_EROFS_PCLUSTER_MAX_SIZE`).
const PCLUSTER_MAX: usize = 1 << 20;

/// What the superblock says about compressed files.
#[derive(Clone, Copy)]
pub struct ZSuper {
    pub block_bits: u32,
    /// `LZ4_0PADDING`: compressed data is right-aligned in its pcluster.
    pub zero_padding: bool,
    pub big_pcluster: bool,
    pub ztailpacking: bool,
}

/// A compressed inode: where its map header sits and how big it is.
pub struct ZFile {
    /// Where the inode's fixed part and xattrs end (absolute).
    pub inode_end: usize,
    pub size: u64,
    /// Legacy (full) indexes rather than compacted ones.
    pub legacy: bool,
}

/// One decoded index entry.
#[derive(Clone, Copy)]
struct Lcluster {
    kind: u8,
    /// `clusterofs` for heads; the first field (delta or `CBLKCNT`) for NONHEADs.
    lo: u16,
    /// Block address of a head's pcluster.
    pblk: u64,
    /// Where the index pack holding this entry ends (tail-packed data follows).
    pack_end: usize,
}

struct Map<'a> {
    data: &'a [u8],
    sb: ZSuper,
    legacy: bool,
    advise: u16,
    algorithm: u8,
    cluster_bits: u32,
    /// First index entry (legacy) or first compacted pack.
    index_at: usize,
    total: u64,
    idata_size: usize,
}

fn round_up(n: usize, to: usize) -> usize {
    n.div_ceil(to) * to
}

impl Map<'_> {
    fn lcluster(&self, lcn: u64) -> Result<Lcluster, String> {
        if self.legacy {
            let at = usize::try_from(lcn)
                .ok()
                .and_then(|l| l.checked_mul(8)?.checked_add(self.index_at))
                .filter(|&a| a + 8 <= self.data.len())
                .ok_or_else(|| format!("index of lcluster {lcn} lies outside the image"))?;
            let advise = le16(self.data, at).unwrap_or(0);
            let kind = (advise & 3) as u8;
            let (lo, pblk) = if kind == NONHEAD {
                (le16(self.data, at + 4).unwrap_or(0), 0)
            } else {
                let ofs = le16(self.data, at + 2).unwrap_or(0);
                (ofs, u64::from(le32(self.data, at + 4).unwrap_or(0)))
            };
            return Ok(Lcluster {
                kind,
                lo,
                pblk,
                pack_end: at + 8,
            });
        }
        self.compacted(lcn)
    }

    /// A compacted entry (`compacted_load_cluster_from_disk`): 4-byte
    /// entries up to a 32-byte boundary, then 2-byte packs of 16 (when
    /// advised), then 4-byte entries again.
    fn compacted(&self, lcn: u64) -> Result<Lcluster, String> {
        let initial = ((32 - self.index_at % 32) / 4 % 8) as u64;
        let two_byte = if self.advise & ADVISE_COMPACTED_2B != 0 && initial < self.total {
            (self.total - initial) / 16 * 16
        } else {
            0
        };
        let (pos, shift) = if lcn < initial {
            (lcn * 4, 2)
        } else if lcn - initial < two_byte {
            (initial * 4 + (lcn - initial) * 2, 1)
        } else {
            (
                initial * 4 + two_byte * 2 + (lcn - initial - two_byte) * 4,
                2,
            )
        };
        let count: usize = if shift == 2 { 2 } else { 16 };
        let pack_len = count << shift;
        let pos = usize::try_from(pos)
            .ok()
            .and_then(|p| p.checked_add(self.index_at))
            .ok_or("index offset overflows")?;
        let base = pos / pack_len * pack_len;
        let pack = self
            .data
            .get(base..base + pack_len)
            .ok_or_else(|| format!("index of lcluster {lcn} lies outside the image"))?;
        let bits = (pack_len * 8 - 32) / count;
        let i = (pos - base) >> shift;
        let (kind, lo) = self.entry(pack, bits, i);
        let mut out = Lcluster {
            kind,
            lo,
            pblk: 0,
            pack_end: base + pack_len,
        };
        if kind == NONHEAD {
            return Ok(out);
        }
        // The pack's base address, plus the blocks of the pclusters that
        // start before this head inside the pack (`unpack_compacted_index`).
        let big = self.advise & ADVISE_BIG_PCLUSTER_1 != 0;
        let mut nblk: u64 = if big { 0 } else { 1 };
        let mut j = i as i64;
        while j > 0 {
            j -= 1;
            let (k, lo) = self.entry(pack, bits, j as usize);
            if k == NONHEAD {
                if big && lo & CBLKCNT != 0 {
                    j -= 1;
                    nblk += u64::from(lo & !CBLKCNT);
                    continue;
                }
                if big {
                    if lo <= 1 {
                        return Err(format!("lcluster {lcn}: bad NONHEAD distance {lo}"));
                    }
                    j -= i64::from(lo) - 2;
                    continue;
                }
                j -= i64::from(lo);
                if j >= 0 {
                    nblk += 1;
                }
                continue;
            }
            nblk += 1;
        }
        out.pblk = u64::from(le32(pack, pack_len - 4).unwrap_or(0)) + nblk;
        Ok(out)
    }

    /// Entry `i` of a compacted pack: `bits` per entry, the low
    /// `cluster_bits` of which are `lo` and the next two the type.
    fn entry(&self, pack: &[u8], bits: usize, i: usize) -> (u8, u16) {
        let at = bits * i;
        let mut word = [0u8; 4];
        let bytes = &pack[at / 8..(at / 8 + 4).min(pack.len())];
        word[..bytes.len()].copy_from_slice(bytes);
        let v = u32::from_le_bytes(word) >> (at % 8);
        let lo = v & ((1 << self.cluster_bits) - 1);
        (((v >> self.cluster_bits) & 3) as u8, lo as u16)
    }
}

/// One extent to decode: its logical start, the head that starts it.
struct Extent {
    la: u64,
    lcn: u64,
    head: Lcluster,
    /// The pcluster's size in blocks, from the first NONHEAD (big pclusters).
    blocks: Option<u64>,
}

/// Decodes a compressed file, its output reserved pcluster by pcluster.
/// The caller checked `file.size` against the output cap; the reservation
/// returned holds the output's memory, for [`Budget::keep`].
pub fn read(
    data: &[u8],
    sb: ZSuper,
    file: &ZFile,
    budget: &Budget,
) -> Result<(Vec<u8>, Reservation), String> {
    let header_at = round_up(file.inode_end, 8);
    let header = data
        .get(header_at..header_at + 8)
        .ok_or("compression map header lies outside the image")?;
    let implicit = file.legacy && !sb.big_pcluster && !sb.ztailpacking;
    let (idata_size, advise, algorithm, cluster_bits) = if implicit {
        (0, 0, ALG_LZ4, sb.block_bits)
    } else {
        (
            usize::from(le16(header, 2).unwrap_or(0)),
            le16(header, 4).unwrap_or(0),
            header[6] & 15,
            sb.block_bits + u32::from(header[7] & 7),
        )
    };
    if advise & !0xf != 0 {
        return Err(format!(
            "map header advises {advise:#x}: fragments or interlaced pclusters are not read"
        ));
    }
    if !matches!(algorithm, ALG_LZ4 | ALG_LZMA) {
        return Err(format!("unknown compression algorithm {algorithm}"));
    }
    if !file.legacy {
        if cluster_bits != 12 {
            return Err(format!(
                "compacted indexes of {}-byte lclusters are not defined",
                1u64 << cluster_bits
            ));
        }
        if (advise & ADVISE_BIG_PCLUSTER_1 == 0) != (advise & ADVISE_BIG_PCLUSTER_2 == 0) {
            return Err("big pcluster flags of the compacted index disagree".into());
        }
    }
    let cluster = 1u64 << cluster_bits;
    let total = file.size.div_ceil(cluster);
    // The smallest index entry is 2 bytes: an index larger than the image
    // is corrupt, and is refused before it is walked.
    if total > data.len() as u64 / 2 {
        return Err(format!(
            "{} bytes need {total} index entries, more than the image holds",
            file.size
        ));
    }
    let map = Map {
        data,
        sb,
        legacy: file.legacy,
        advise,
        algorithm,
        cluster_bits,
        index_at: if file.legacy {
            header_at + 16
        } else {
            header_at + 8
        },
        total,
        idata_size,
    };
    let mut out = Vec::new();
    let mut reservation = budget.reserve(0).map_err(|b| b.to_string())?;
    let mut current: Option<Extent> = None;
    // Tail-packed data follows the index pack of the last lcluster.
    let last_pack_end = map.lcluster(total.saturating_sub(1))?.pack_end;
    for lcn in 0..total {
        let lc = map.lcluster(lcn)?;
        match lc.kind {
            PLAIN | HEAD => {
                if u64::from(lc.lo) >= cluster {
                    return Err(format!(
                        "lcluster {lcn}: cluster offset {} too large",
                        lc.lo
                    ));
                }
                let la = (lcn << cluster_bits) | u64::from(lc.lo);
                if la >= file.size {
                    // mkfs.erofs marks the end of the last extent with a
                    // head at the file's end: no extent starts there.
                    break;
                }
                match current.take() {
                    Some(e) => map.decode(&e, la, None, &mut out, &mut reservation)?,
                    None if la != 0 => {
                        return Err(format!("lcluster 0 starts its extent at {la}, not 0"));
                    }
                    None => {}
                }
                current = Some(Extent {
                    la,
                    lcn,
                    head: lc,
                    blocks: None,
                });
            }
            NONHEAD => {
                let Some(e) = current.as_mut() else {
                    return Err("the first lcluster is not a head".into());
                };
                if lcn == e.lcn + 1 && lc.lo & CBLKCNT != 0 {
                    e.blocks = Some(u64::from(lc.lo & !CBLKCNT));
                }
            }
            _ => return Err(format!("lcluster {lcn} has the reserved type 3")),
        }
    }
    let Some(last) = current else {
        return Ok((out, reservation));
    };
    let inline = (advise & ADVISE_INLINE_PCLUSTER != 0).then_some(last_pack_end);
    map.decode(&last, file.size, inline, &mut out, &mut reservation)?;
    Ok((out, reservation))
}

impl Map<'_> {
    /// Decodes extent `e`, which ends at `end`, onto `out`; its pcluster
    /// sits at `inline` (tail packing) or at the head's block address.
    fn decode(
        &self,
        e: &Extent,
        end: u64,
        inline: Option<usize>,
        out: &mut Vec<u8>,
        reservation: &mut Reservation,
    ) -> Result<(), String> {
        if end <= e.la {
            return Err(format!("extent at {} ends before it starts ({end})", e.la));
        }
        let len = usize::try_from(end - e.la).map_err(|_| "extent too large")?;
        let cluster = 1usize << self.cluster_bits;
        let (at, plen) = match inline {
            Some(at) => (at, self.idata_size),
            None => {
                let blocks = if e.head.kind == PLAIN || self.advise & ADVISE_BIG_PCLUSTER_1 == 0 {
                    1
                } else {
                    e.blocks.unwrap_or(1)
                };
                let at = e
                    .head
                    .pblk
                    .checked_mul(1 << self.sb.block_bits)
                    .and_then(|a| usize::try_from(a).ok())
                    .ok_or("pcluster address overflows")?;
                (at, (blocks as usize).saturating_mul(cluster))
            }
        };
        if plen == 0 || plen > PCLUSTER_MAX {
            return Err(format!("extent at {}: pcluster of {plen} bytes", e.la));
        }
        let raw = at
            .checked_add(plen)
            .and_then(|end| self.data.get(at..end))
            .ok_or_else(|| {
                format!(
                    "extent at {}: pcluster of {plen} bytes at {at:#x} lies outside the image",
                    e.la
                )
            })?;
        reservation.grow(len as u64).map_err(|b| b.to_string())?;
        out.reserve_exact(len);
        let before = out.len();
        if e.head.kind == PLAIN {
            let stored = raw
                .get(..len)
                .ok_or_else(|| format!("stored extent at {} is longer than its pcluster", e.la))?;
            out.extend_from_slice(stored);
            return Ok(());
        }
        let zeros = if self.sb.zero_padding || self.algorithm == ALG_LZMA {
            raw.iter().take(4096).take_while(|&&b| b == 0).count()
        } else {
            0
        };
        let input = &raw[zeros..];
        if input.is_empty() {
            return Err(format!("extent at {}: pcluster holds only zeros", e.la));
        }
        let result = if self.algorithm == ALG_LZ4 {
            lz4_partial(input, len, out)
        } else {
            microlzma(input, len, out)
        };
        result.map_err(|m| format!("extent at {} (pcluster at {at:#x}): {m}", e.la))?;
        debug_assert_eq!(out.len() - before, len);
        Ok(())
    }
}

/// An LZ4 block decoded until `len` bytes are out (`LZ4_decompress_safe_partial`):
/// pclusters without zero padding end in garbage after the last sequence,
/// which `lz4_flex` would try to decode. Appends exactly `len` bytes to `out`.
fn lz4_partial(input: &[u8], len: usize, out: &mut Vec<u8>) -> Result<(), String> {
    let start = out.len();
    let goal = start + len;
    let mut i = 0;
    let take_len = |i: &mut usize, mut n: usize| -> Result<usize, String> {
        if n == 15 {
            loop {
                let b = *input.get(*i).ok_or("LZ4 length runs past the input")?;
                *i += 1;
                n += usize::from(b);
                if b != 255 {
                    break;
                }
            }
        }
        Ok(n)
    };
    while out.len() < goal {
        let token = *input.get(i).ok_or("LZ4 data ends early")?;
        i += 1;
        let literals = take_len(&mut i, usize::from(token >> 4))?;
        let lit = input
            .get(
                i..i.checked_add(literals)
                    .ok_or("LZ4 literal length overflows")?,
            )
            .ok_or("LZ4 literals run past the input")?;
        i += literals;
        let room = goal - out.len();
        out.extend_from_slice(&lit[..literals.min(room)]);
        if out.len() >= goal {
            break;
        }
        let offset = usize::from(le16(input, i).ok_or("LZ4 match offset runs past the input")?);
        i += 2;
        let matched = take_len(&mut i, usize::from(token & 15))? + 4;
        if offset == 0 || offset > out.len() - start {
            return Err(format!(
                "LZ4 match offset {offset} points before the output"
            ));
        }
        let n = matched.min(goal - out.len());
        let from = out.len() - offset;
        for k in 0..n {
            let b = out[from + k];
            out.push(b);
        }
    }
    Ok(())
}

/// A MicroLZMA pcluster (liblzma's `lzma_microlzma_encoder`): raw LZMA1
/// whose first byte, always 0 in a range coder's output, carries the
/// inverted properties byte instead. Decoded with the byte restored, to
/// exactly `len` bytes.
fn microlzma(input: &[u8], len: usize, out: &mut Vec<u8>) -> Result<(), String> {
    let props = !input[0];
    let mut raw = Vec::with_capacity(input.len());
    raw.push(0);
    raw.extend_from_slice(&input[1..]);
    let d = compress::lzma_known_size(props, len as u32, &raw, len);
    if let Some(e) = d.error {
        return Err(format!("MicroLZMA: {e}"));
    }
    if d.data.len() != len {
        return Err(format!("MicroLZMA decoded {} bytes of {len}", d.data.len()));
    }
    out.extend_from_slice(&d.data);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lz4_partial_decodes_lz4_flex_blocks_and_stops_before_trailing_garbage() {
        let text: Vec<u8> = (0..5000u32)
            .flat_map(|i| format!("line {} of {}\n", i % 97, i % 13).into_bytes())
            .collect();
        let mut block = lz4_flex::block::compress(&text);
        let mut out = b"prefix".to_vec();
        lz4_partial(&block, text.len(), &mut out).unwrap();
        assert_eq!(&out[6..], &text[..]);
        // Zeros after the last sequence (a pcluster without zero padding).
        block.extend_from_slice(&[0; 64]);
        let mut out = Vec::new();
        lz4_partial(&block, text.len(), &mut out).unwrap();
        assert_eq!(out, text);
        // Partial: the first 1000 bytes only.
        let mut out = Vec::new();
        lz4_partial(&block, 1000, &mut out).unwrap();
        assert_eq!(out, &text[..1000]);
        // Cut anywhere: an error, never a panic or a short output.
        for cut in 0..block.len() - 64 {
            let mut out = Vec::new();
            if lz4_partial(&block[..cut], text.len(), &mut out).is_ok() {
                assert_eq!(out.len(), text.len(), "cut {cut}");
            }
        }
        // A match reaching before the output is refused.
        let bad = [0x0f, b'a', 0x05, 0x00];
        assert!(lz4_partial(&bad, 40, &mut Vec::new()).is_err());
    }
}

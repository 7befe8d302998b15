//! How much memory `sevenz-rust2` will allocate for a 7z archive, read from
//! the archive's headers before the crate sees them.
//!
//! The crate trusts what a header declares: an encoded header's unpacked size
//! becomes a zero-filled buffer, and an LZMA2 coder's dictionary size (up to
//! 4 GiB, from one property byte) becomes a zero-filled window, both before a
//! single byte is decoded. A 2 KB archive could so touch 4 GiB. This walk
//! reads the same header records (7-Zip's `7zFormat.txt`: StreamsInfo,
//! Folder, coder properties, unpack sizes), decodes an LZMA-coded header
//! itself under a bound, and says what the largest folder's decoders and the
//! header will cost, so the caller reserves it from the budget first.

const K_END: u8 = 0x00;
const K_HEADER: u8 = 0x01;
const K_ARCHIVE_PROPERTIES: u8 = 0x02;
const K_ADDITIONAL_STREAMS_INFO: u8 = 0x03;
const K_MAIN_STREAMS_INFO: u8 = 0x04;
const K_FILES_INFO: u8 = 0x05;
const K_PACK_INFO: u8 = 0x06;
const K_UNPACK_INFO: u8 = 0x07;
const K_SIZE: u8 = 0x09;
const K_CRC: u8 = 0x0a;
const K_FOLDER: u8 = 0x0b;
const K_CODERS_UNPACK_SIZE: u8 = 0x0c;
const K_ENCODED_HEADER: u8 = 0x17;

const LZMA: &[u8] = &[3, 1, 1];
const LZMA2: &[u8] = &[0x21];
const BZIP2: &[u8] = &[4, 2, 2];
const DEFLATE: &[u8] = &[4, 1, 8];
const DEFLATE64: &[u8] = &[4, 1, 9];
const AES: &[u8] = &[6, 0xf1, 7, 1];
/// Coders and folders a real archive never comes near; more is refused.
const MAX_CODERS: u64 = 64;
const MAX_FOLDERS: u64 = 1 << 20;

/// What opening and reading the archive will allocate.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Cost {
    /// The decoded header buffer plus its decoders (0 for a plain header).
    pub header: u64,
    /// The decoders of the costliest folder (folders are read one at a time).
    pub folder: u64,
}

/// Why an archive is not opened.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The budget refused the memory the header needs.
    Budget(String),
    /// The header records are malformed.
    Corrupt(String),
}

impl From<String> for Refusal {
    fn from(why: String) -> Refusal {
        Refusal::Corrupt(why)
    }
}

impl From<&str> for Refusal {
    fn from(why: &str) -> Refusal {
        Refusal::Corrupt(why.into())
    }
}

/// One coder of a folder: method id, properties, and the size it writes.
struct Coder {
    id: Vec<u8>,
    props: Vec<u8>,
    unpack: u64,
}

/// The memory one decoder allocates, as the crate's decoders size it.
fn decoder_memory(c: &Coder) -> u64 {
    /// lzma-rust2 rounds a dictionary up to 16 bytes, at least 4 KiB.
    fn window(dict: u64) -> u64 {
        (dict.max(4096) + 15) & !15
    }
    match c.id.as_slice() {
        // LZMA cuts its window to the output size; LZMA2 does not.
        LZMA => {
            let dict = c.props.get(1..5).map_or(0, |b| {
                u32::from_le_bytes(b.try_into().expect("four bytes")) as u64
            });
            window(dict.min(c.unpack))
        }
        LZMA2 => {
            let bits = c.props.first().copied().unwrap_or(0) as u32;
            let dict = match bits {
                0..=39 => (2 | (bits as u64 & 1)) << (bits / 2 + 11),
                _ => u32::MAX as u64,
            };
            window(dict)
        }
        BZIP2 => 8 << 20,
        DEFLATE | DEFLATE64 => 256 << 10,
        // Copy, BCJ, BCJ2, delta, ARM filters: small fixed buffers.
        _ => 64 << 10,
    }
}

/// A cursor over header bytes, with 7z's variable-length numbers.
struct Cursor<'a> {
    data: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn byte(&mut self) -> Result<u8, String> {
        let b = *self
            .data
            .get(self.at)
            .ok_or_else(|| format!("7z header ends at byte {}", self.at))?;
        self.at += 1;
        Ok(b)
    }

    fn bytes(&mut self, n: u64) -> Result<&'a [u8], String> {
        let end = usize::try_from(n)
            .ok()
            .and_then(|n| self.at.checked_add(n))
            .filter(|&end| end <= self.data.len())
            .ok_or_else(|| {
                format!(
                    "7z header record of {n} bytes at byte {} overruns it",
                    self.at
                )
            })?;
        let out = &self.data[self.at..end];
        self.at = end;
        Ok(out)
    }

    /// `REAL_UINT64`: the first byte's leading one bits say how many bytes follow.
    fn number(&mut self) -> Result<u64, String> {
        let first = self.byte()?;
        let mut mask = 0x80u8;
        let mut value = 0u64;
        for i in 0..8 {
            if first & mask == 0 {
                let high = (first & mask.wrapping_sub(1)) as u64;
                return Ok(value | high.checked_shl(8 * i).unwrap_or(0));
            }
            value |= (self.byte()? as u64) << (8 * i);
            mask >>= 1;
        }
        Ok(value)
    }

    fn bounded(&mut self, most: u64, what: &str) -> Result<u64, String> {
        let n = self.number()?;
        if n > most {
            return Err(format!(
                "7z header declares {n} {what} (at most {most} read)"
            ));
        }
        Ok(n)
    }

    /// A digest list: an all-defined byte or a bit vector, then CRC-32s.
    fn skip_digests(&mut self, count: u64) -> Result<(), String> {
        let defined = if self.byte()? != 0 {
            count
        } else {
            let bits = self.bytes(count.div_ceil(8))?;
            bits.iter().map(|b| b.count_ones() as u64).sum()
        };
        self.bytes(defined.saturating_mul(4)).map(|_| ())
    }

    /// A property record this walk does not need: id, then size, then bytes.
    fn skip_sized(&mut self) -> Result<(), String> {
        let n = self.number()?;
        self.bytes(n).map(|_| ())
    }
}

/// The folders of a StreamsInfo, with where their packed streams start.
struct Streams {
    pack_pos: u64,
    pack_sizes: Vec<u64>,
    folders: Vec<Vec<Coder>>,
}

fn streams_info(c: &mut Cursor) -> Result<Streams, String> {
    let mut out = Streams {
        pack_pos: 0,
        pack_sizes: Vec::new(),
        folders: Vec::new(),
    };
    let mut id = c.byte()?;
    if id == K_PACK_INFO {
        out.pack_pos = c.number()?;
        let count = c.bounded(MAX_FOLDERS, "packed streams")?;
        loop {
            match c.byte()? {
                K_END => break,
                K_SIZE => {
                    for _ in 0..count {
                        out.pack_sizes.push(c.number()?);
                    }
                }
                K_CRC => c.skip_digests(count)?,
                other => return Err(format!("7z pack info record {other:#x} unknown")),
            }
        }
        id = c.byte()?;
    }
    if id == K_UNPACK_INFO {
        if c.byte()? != K_FOLDER {
            return Err("7z unpack info without its folder list".into());
        }
        let count = c.bounded(MAX_FOLDERS, "folders")?;
        if c.byte()? != 0 {
            return Err("7z folders stored apart from the header (external) are not read".into());
        }
        let mut outs = Vec::new();
        for _ in 0..count {
            let (coders, total_out) = folder(c)?;
            out.folders.push(coders);
            outs.push(total_out);
        }
        if c.byte()? != K_CODERS_UNPACK_SIZE {
            return Err("7z unpack info without coder sizes".into());
        }
        for (coders, total_out) in out.folders.iter_mut().zip(&outs) {
            let sizes = (0..*total_out)
                .map(|_| c.number())
                .collect::<Result<Vec<_>, _>>()?;
            // Coders with one output each (all the crate supports) write the
            // sizes in coder order.
            for (coder, size) in coders.iter_mut().zip(sizes) {
                coder.unpack = size;
            }
        }
        loop {
            match c.byte()? {
                K_END => break,
                K_CRC => c.skip_digests(count)?,
                other => return Err(format!("7z unpack info record {other:#x} unknown")),
            }
        }
    }
    // Substreams only split folders into files: nothing is allocated for them.
    Ok(out)
}

/// A folder's coders and its total number of output streams.
fn folder(c: &mut Cursor) -> Result<(Vec<Coder>, u64), String> {
    let count = c.bounded(MAX_CODERS, "coders in one folder")?;
    let (mut coders, mut total_in, mut total_out) = (Vec::new(), 0u64, 0u64);
    for _ in 0..count {
        let flags = c.byte()?;
        let id = c.bytes((flags & 0x0f) as u64)?.to_vec();
        let (ins, outs) = if flags & 0x10 != 0 {
            (
                c.bounded(MAX_CODERS, "coder inputs")?,
                c.bounded(MAX_CODERS, "coder outputs")?,
            )
        } else {
            (1, 1)
        };
        let props = if flags & 0x20 != 0 {
            let n = c.number()?;
            c.bytes(n)?.to_vec()
        } else {
            Vec::new()
        };
        total_in += ins;
        total_out += outs;
        coders.push(Coder {
            id,
            props,
            unpack: 0,
        });
    }
    let pairs = total_out.saturating_sub(1);
    for _ in 0..pairs {
        c.number()?;
        c.number()?;
    }
    let packed = total_in.saturating_sub(pairs);
    if packed > 1 {
        for _ in 0..packed {
            c.number()?;
        }
    }
    Ok((coders, total_out))
}

fn folder_memory(coders: &[Coder]) -> u64 {
    coders.iter().map(decoder_memory).sum()
}

/// The costliest folder of a plain header (`kHeader` already read).
fn plain_header(c: &mut Cursor) -> Result<u64, String> {
    let mut id = c.byte()?;
    if id == K_ARCHIVE_PROPERTIES {
        while c.byte()? != K_END {
            c.skip_sized()?;
        }
        id = c.byte()?;
    }
    match id {
        K_MAIN_STREAMS_INFO => {
            // The folders are all this walk needs; substreams and files
            // come after them and allocate nothing in the decoders.
            let streams = streams_info(c)?;
            Ok(streams
                .folders
                .iter()
                .map(|f| folder_memory(f))
                .max()
                .unwrap_or(0))
        }
        // The crate refuses additional streams too (external headers).
        K_ADDITIONAL_STREAMS_INFO => {
            Err("7z additional streams (external headers) are not read".into())
        }
        K_FILES_INFO | K_END => Ok(0),
        other => Err(format!("7z header record {other:#x} unknown")),
    }
}

/// Reads the cost of an archive whose start header was checked: `image` is
/// the whole archive, `next` its next header. `decode` decodes an LZMA-coded
/// header of the given size (called only after the caller knows the size,
/// through `header_budget`).
pub fn cost(
    image: &[u8],
    next: &[u8],
    header_budget: &mut dyn FnMut(u64) -> Result<(), String>,
) -> Result<Cost, Refusal> {
    let mut c = Cursor { data: next, at: 0 };
    match c.byte()? {
        K_HEADER => Ok(Cost {
            header: 0,
            folder: plain_header(&mut c)?,
        }),
        K_ENCODED_HEADER => {
            let streams = streams_info(&mut c)?;
            let coders = streams
                .folders
                .first()
                .ok_or("7z encoded header without a folder")?;
            let size = coders.last().map_or(0, |k| k.unpack);
            let header = size.saturating_add(folder_memory(coders));
            if coders.iter().any(|k| k.id == AES) {
                // The crate stops at the cipher it was built without, before
                // it allocates the header: nothing more to read here.
                return Ok(Cost { header, folder: 0 });
            }
            header_budget(header).map_err(Refusal::Budget)?;
            let [coder] = coders.as_slice() else {
                return Err(format!(
                    "7z header coded with {} coders; 7-Zip writes one (LZMA)",
                    coders.len()
                )
                .into());
            };
            if coder.id != LZMA || coder.props.len() < 5 {
                return Err("7z header coded with a method other than LZMA".into());
            }
            let start = 32u64.saturating_add(streams.pack_pos);
            let len = streams.pack_sizes.first().copied().unwrap_or(0);
            let packed = usize::try_from(start)
                .ok()
                .zip(usize::try_from(start.saturating_add(len)).ok())
                .and_then(|(s, e)| image.get(s..e))
                .ok_or("7z encoded header's packed stream lies outside the archive")?;
            let dict = u32::from_le_bytes(coder.props[1..5].try_into().expect("four bytes"));
            let decoded = crate::unpack::compress::lzma_known_size(
                coder.props[0],
                dict,
                packed,
                size as usize,
            );
            if decoded.data.len() as u64 != size {
                return Err(format!(
                    "7z encoded header does not decode to its {size} bytes{}",
                    decoded.error.map(|e| format!(": {e}")).unwrap_or_default()
                )
                .into());
            }
            let mut inner = Cursor {
                data: &decoded.data,
                at: 0,
            };
            if inner.byte()? != K_HEADER {
                return Err("7z encoded header does not decode to a header".into());
            }
            Ok(Cost {
                header,
                folder: plain_header(&mut inner)?,
            })
        }
        other => Err(format!("7z next header starts with unknown record {other:#x}").into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn next_header(image: &[u8]) -> &[u8] {
        let off = u64::from_le_bytes(image[12..20].try_into().unwrap()) as usize;
        let size = u64::from_le_bytes(image[20..28].try_into().unwrap()) as usize;
        &image[32 + off..32 + off + size]
    }

    fn cost_of(path: &str) -> Result<Cost, Refusal> {
        let image = std::fs::read(path).unwrap();
        cost(&image, next_header(&image), &mut |_| Ok(()))
    }

    /// `7z a -mhc=off` with its LZMA2 property byte rewritten (make-bombs.py):
    /// 40 means a 4 GiB window, 36 a 1 GiB one.
    #[test]
    fn an_lzma2_window_is_read_from_its_property_byte() {
        let base = "tests/fixtures/7z";
        assert_eq!(
            cost_of(&format!("{base}/dict-4g.7z")).unwrap().folder,
            0xffff_fff0 + 16
        );
        assert_eq!(
            cost_of(&format!("{base}/dict-1g.7z")).unwrap().folder,
            1 << 30
        );
    }

    /// The p7zip fixtures have encoded headers (7-Zip's default), LZMA2 and
    /// BCJ + LZMA2 folders of a few KiB windows.
    #[test]
    fn real_archives_cost_what_their_coders_need() {
        for name in ["tree", "tree-bcj"] {
            let cost = cost_of(&format!("tests/fixtures/7z/{name}.7z")).unwrap();
            assert!(cost.header > 0 && cost.header < 1 << 20, "{name}: {cost:?}");
            assert!(
                cost.folder >= 4096 && cost.folder < 1 << 20,
                "{name}: {cost:?}"
            );
        }
    }

    /// An encoded header that declares 4 GiB is refused by the budget before
    /// anything is decoded.
    #[test]
    fn a_huge_encoded_header_is_asked_of_the_budget_first() {
        let image = std::fs::read("tests/fixtures/7z/header-4g.7z").unwrap();
        let mut asked = 0;
        let err = cost(&image, next_header(&image), &mut |n| {
            asked = n;
            Err("refused".into())
        })
        .unwrap_err();
        assert_eq!(err, Refusal::Budget("refused".into()));
        assert!(asked >= 4 << 30, "{asked}");
    }

    #[test]
    fn cut_headers_are_errors_not_panics() {
        let image = std::fs::read("tests/fixtures/7z/tree.7z").unwrap();
        let next = next_header(&image);
        for len in 0..next.len() {
            let _ = cost(&image, &next[..len], &mut |_| Ok(()));
        }
        let mut c = Cursor {
            data: &[0xff, 1, 2, 3, 4, 5, 6, 7, 8],
            at: 0,
        };
        assert_eq!(c.number().unwrap(), 0x0807_0605_0403_0201);
    }
}

//! Bounded stream decompressors shared by the compression layers and by
//! containers that declare a payload codec (uImage, ...).
//!
//! Each returns how many input bytes the stream used, so that carving can step
//! over it, and stops at `cap` output bytes so that a bomb cannot exhaust memory.

use super::limits::{Budget, Exceeded, Reservation};
use flate2::bufread::GzDecoder;
use liblzma::stream::{Action, Status, Stream};
use std::io::Read;

/// Result of decompressing one stream.
#[derive(Debug)]
pub struct Decoded {
    pub data: Vec<u8>,
    /// Compressed bytes consumed from the input.
    pub consumed: usize,
    /// Why decoding stopped early, if it did (truncated or corrupt input).
    pub error: Option<String>,
    /// True when output reached `cap` before the stream ended.
    pub capped: bool,
    /// The memory bound that stopped decoding, if one did (output kept so far
    /// is in `data`).
    pub starved: Option<Exceeded>,
    /// The memory `data` holds, reserved from the budget as it grew
    /// (decoders given a budget); [`Decoded::keep`] charges it for good.
    reservation: Option<Reservation>,
}

impl Decoded {
    /// A result decoded outside this module (a format's own codec), with
    /// the memory reserved for its output before it was allocated, if any.
    pub fn new(
        data: Vec<u8>,
        consumed: usize,
        error: Option<String>,
        capped: bool,
        reservation: Option<Reservation>,
    ) -> Decoded {
        Decoded {
            data,
            consumed,
            error,
            capped,
            starved: None,
            reservation,
        }
    }

    /// Nothing decoded: `bound` refused the memory the output needs.
    pub fn starved(bound: Exceeded) -> Decoded {
        starved(bound)
    }

    /// True when output stopped at a bound (the cap or memory), not at the
    /// stream's end: only a real stream decodes that far.
    pub fn stopped(&self) -> bool {
        self.capped || self.starved.is_some()
    }

    /// Charges the output for good, to be kept in the tree: the memory
    /// reserved while it grew (its capacity) stays charged, and its length
    /// is charged to the total and layer bounds. (Shrinking the vector would
    /// not help: the allocator reallocates large blocks in place.)
    pub fn keep(&mut self, budget: &mut Budget) -> Result<(), Exceeded> {
        let len = self.data.len() as u64;
        // A buffer more than twice its length (a short stream in its first
        // growth step) moves to a smaller one; less spare than that stays.
        if self.data.capacity() > 2 * self.data.len() {
            let before = self.data.capacity() as u64;
            self.data.shrink_to_fit();
            if let Some(r) = &mut self.reservation {
                r.release(before.saturating_sub(self.data.capacity() as u64));
            }
        }
        match self.reservation.take() {
            Some(r) => budget.keep(r, len),
            None => budget.charge(self.data.capacity() as u64),
        }
    }
}

/// Where a decoder writes: a vector that grows only up to `cap` (plus one
/// byte, to tell a stream that goes on from one that ends), and only after
/// the memory for its new capacity is reserved from the budget, when there
/// is one. Decoders given no budget are for blocks of a small known size
/// whose output the caller charged before asking.
struct Sink {
    data: Vec<u8>,
    cap: u64,
    reservation: Option<Reservation>,
    capped: bool,
    starved: Option<Exceeded>,
}

impl Sink {
    fn new(cap: u64, budget: Option<&Budget>) -> Sink {
        Sink {
            data: Vec::new(),
            cap,
            // Reserving nothing cannot fail.
            reservation: budget.and_then(|b| b.reserve(0).ok()),
            capped: false,
            starved: None,
        }
    }

    /// The capacity the vector may grow to: one byte past the cap.
    fn limit(&self) -> usize {
        usize::try_from(self.cap)
            .unwrap_or(usize::MAX)
            .saturating_add(1)
    }

    /// Makes capacity for `extra` more bytes, growing by half (from
    /// 256 KiB) but never past [`Sink::limit`]; false when the memory bound
    /// refuses (then `starved` says which). While the vector moves, its old
    /// and its new buffer both exist: both are reserved until the move is
    /// done, then the old one is given back.
    fn make_room(&mut self, extra: usize) -> bool {
        const FIRST: usize = 256 * 1024;
        let need = self.data.len().saturating_add(extra).min(self.limit());
        let have = self.data.capacity();
        if need <= have {
            return true;
        }
        let want = have
            .saturating_add(have / 2)
            .max(need)
            .max(FIRST)
            .min(self.limit());
        let target = match &mut self.reservation {
            None => want,
            Some(r) => match r.grow(want as u64) {
                Ok(()) => want,
                // Not the growth step: perhaps exactly what is needed fits.
                Err(e) => {
                    if need == want || r.grow(need as u64).is_err() {
                        self.starved = Some(e);
                        return false;
                    }
                    need
                }
            },
        };
        self.data.reserve_exact(target - self.data.len());
        if let Some(r) = &mut self.reservation {
            r.release(have as u64);
            // The allocator may round the capacity up: that is held too.
            let extra = self.data.capacity().saturating_sub(target);
            let _ = r.grow(extra as u64);
        }
        true
    }

    /// Appends what fits under the cap; false once output must stop (the
    /// cap is reached or memory refused).
    fn push(&mut self, bytes: &[u8]) -> bool {
        let room = self.cap.saturating_sub(self.data.len() as u64);
        let n = bytes.len().min(usize::try_from(room).unwrap_or(usize::MAX));
        if !self.make_room(n) {
            return false;
        }
        self.data.extend_from_slice(&bytes[..n]);
        if bytes.len() > n {
            self.capped = true;
            return false;
        }
        true
    }

    fn finish(self, consumed: usize, error: Option<String>) -> Decoded {
        Decoded {
            data: self.data,
            consumed,
            error,
            capped: self.capped,
            starved: self.starved,
            reservation: self.reservation,
        }
    }
}

/// Memory a decoder needs besides its output (window, block buffers),
/// reserved for as long as it decodes.
fn working(budget: Option<&Budget>, bytes: u64) -> Result<Option<Reservation>, Exceeded> {
    budget.map(|b| b.reserve(bytes)).transpose()
}

/// Reads from `reader` into `sink` until EOF, an error, or the sink stops.
fn read_into(mut reader: impl Read, sink: &mut Sink) -> Option<String> {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match reader.read(&mut buf) {
            Ok(0) => return None,
            Ok(n) => {
                if !sink.push(&buf[..n]) {
                    return None;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Some(e.to_string()),
        }
    }
}

/// A stream codec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    Gzip,
    Zlib,
    Bzip2,
    Xz,
    LzmaAlone,
    Zstd,
    Lz4Frame,
    Lz4Legacy,
    /// A bare Brotli stream (RFC 7932), as EDK II's Brotli sections hold.
    Brotli,
}

/// Decodes one stream under `budget`: the output stops at
/// [`Budget::output_cap`] of the input, and every byte of memory (the
/// output as it grows, the decoder's window and buffers) is reserved before
/// it is allocated, from the pool all threads share. Keep the result with
/// [`Decoded::keep`]; dropped, it gives its memory back.
pub fn decode(codec: Codec, input: &[u8], budget: &Budget) -> Decoded {
    decode_with(
        codec,
        input,
        budget.output_cap(input.len() as u64),
        Some(budget),
    )
}

fn decode_with(codec: Codec, input: &[u8], cap: u64, budget: Option<&Budget>) -> Decoded {
    match codec {
        Codec::Gzip => gzip_in(input, cap, budget),
        Codec::Zlib => zlib_in(input, cap, budget),
        Codec::Bzip2 => bzip2_in(input, cap, budget),
        Codec::Xz => match Stream::new_stream_decoder(LZMA_FIRST_MEMLIMIT, 0) {
            Ok(stream) => run_lzma(stream, input, cap, budget, LZMA_MAX_MEMLIMIT),
            Err(e) => failed(e.to_string()),
        },
        Codec::LzmaAlone => match Stream::new_lzma_decoder(LZMA_FIRST_MEMLIMIT) {
            Ok(stream) => run_lzma(stream, input, cap, budget, LZMA_MAX_MEMLIMIT),
            Err(e) => failed(e.to_string()),
        },
        Codec::Zstd => zstd_in(input, cap, budget),
        Codec::Lz4Frame => lz4_frame_in(input, cap, budget),
        Codec::Lz4Legacy => lz4_legacy_in(input, cap, budget),
        Codec::Brotli => brotli_in(input, cap, budget),
    }
}

/// [`decode`] with the output also stopped at `most` bytes: for a stream
/// whose container declares its decoded size (a longer stream is capped).
pub fn decode_at_most(codec: Codec, input: &[u8], budget: &Budget, most: u64) -> Decoded {
    let cap = budget.output_cap(input.len() as u64).min(most);
    decode_with(codec, input, cap, Some(budget))
}

/// inflate's 32 KiB window and state, and the 64 KiB read buffer.
const INFLATE_WORK: u64 = 128 << 10;

/// One gzip member (RFC 1952), for a small bounded block; streams go
/// through [`decode`].
pub fn gzip(input: &[u8], cap: u64) -> Decoded {
    gzip_in(input, cap, None)
}

fn gzip_in(input: &[u8], cap: u64, budget: Option<&Budget>) -> Decoded {
    let _work = match working(budget, INFLATE_WORK) {
        Ok(w) => w,
        Err(e) => return starved(e),
    };
    let mut rest = input;
    let mut sink = Sink::new(cap, budget);
    let error = read_into(GzDecoder::new(&mut rest), &mut sink);
    sink.finish(input.len() - rest.len(), error)
}

/// A zlib stream (RFC 1950), for a small bounded block; streams go through
/// [`decode`]. Unlike a reader over `flate2`, which takes input that ends
/// early for a finished stream, this reports an error unless the stream
/// reached its end and its Adler-32 matched.
pub fn zlib(input: &[u8], cap: u64) -> Decoded {
    zlib_in(input, cap, None)
}

fn zlib_in(input: &[u8], cap: u64, budget: Option<&Budget>) -> Decoded {
    use flate2::{Decompress, FlushDecompress, Status};
    let _work = match working(budget, INFLATE_WORK) {
        Ok(w) => w,
        Err(e) => return starved(e),
    };
    let mut z = Decompress::new(true);
    let mut sink = Sink::new(cap, budget);
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let in_pos = z.total_in() as usize;
        let before = z.total_out();
        let status = z.decompress(&input[in_pos..], &mut chunk, FlushDecompress::None);
        let produced = (z.total_out() - before) as usize;
        let consumed = z.total_in() as usize;
        if !sink.push(&chunk[..produced]) {
            return sink.finish(consumed, None);
        }
        let error = match status {
            Ok(Status::StreamEnd) => None,
            Ok(_) if produced == 0 && consumed == in_pos => {
                Some("unexpected end of compressed data".to_string())
            }
            Ok(_) => continue,
            Err(e) => Some(e.to_string()),
        };
        return sink.finish(consumed, error);
    }
}

/// One bzip2 stream (`BZh`), stopping at its end-of-stream marker; for a
/// small bounded block, streams go through [`decode`].
pub fn bzip2(input: &[u8], cap: u64) -> Decoded {
    bzip2_in(input, cap, None)
}

fn bzip2_in(input: &[u8], cap: u64, budget: Option<&Budget>) -> Decoded {
    // libbz2 decodes a block of `level` × 100 000 bytes through a 4-byte
    // entry per byte, plus its tables.
    let level = match input.get(3) {
        Some(d @ b'1'..=b'9') => u64::from(d - b'0'),
        _ => 9,
    };
    let _work = match working(budget, level * 400_000 + (64 << 10)) {
        Ok(w) => w,
        Err(e) => return starved(e),
    };
    let mut rest = input;
    let mut sink = Sink::new(cap, budget);
    let error = read_into(bzip2::bufread::BzDecoder::new(&mut rest), &mut sink);
    sink.finish(input.len() - rest.len(), error)
}

/// zstd's own default bound on a frame's window (`ZSTD_WINDOWLOG_LIMIT_DEFAULT`, 128 MiB).
const ZSTD_WINDOW_LOG_LIMIT: u32 = 27;
/// Windows up to this are always allowed (8 MiB): what `zstd -19` declares
/// for input of unknown size, so a short stream compressed from a pipe is
/// not refused because its small output cap is below its window.
const ZSTD_WINDOW_LOG_FLOOR: u32 = 23;

/// The largest window log a zstd frame may declare when it may decode to
/// `cap` bytes: the decoder allocates the window before any output reaches
/// the budget, so a window larger than the output allowed is memory spent on
/// nothing (and what made fuzzing crawl).
pub fn zstd_window_log_max(cap: u64) -> u32 {
    let log = u64::BITS - cap.saturating_sub(1).leading_zeros();
    log.clamp(ZSTD_WINDOW_LOG_FLOOR, ZSTD_WINDOW_LOG_LIMIT)
}

/// The window a zstd frame header declares (RFC 8878 3.1.1.1): the window
/// descriptor, or the content size for a single-segment frame. `None` when
/// the header is incomplete (the decoder then reports it).
pub fn zstd_window(input: &[u8]) -> Option<u64> {
    let descriptor = *input.get(4)?;
    let single_segment = descriptor & 0x20 != 0;
    if !single_segment {
        let wd = *input.get(5)?;
        let base = 1u64 << (10 + u32::from(wd >> 3));
        return Some(base + base / 8 * u64::from(wd & 7));
    }
    let dict_len = [0, 1, 2, 4][usize::from(descriptor & 3)];
    let at = 5 + dict_len;
    let field = |n: usize| -> Option<u64> {
        let bytes = input.get(at..at + n)?;
        Some(bytes.iter().rev().fold(0u64, |v, &b| v << 8 | u64::from(b)))
    };
    match descriptor >> 6 {
        0 => field(1),
        1 => field(2).map(|v| v + 256),
        2 => field(4),
        _ => field(8),
    }
}

/// Why a zstd frame that may decode to `cap` bytes is refused, if it is:
/// its window is larger than [`zstd_window_log_max`] allows.
pub fn zstd_window_refusal(input: &[u8], cap: u64) -> Option<String> {
    let window = zstd_window(input)?;
    let allowed = 1u64 << zstd_window_log_max(cap);
    (window > allowed).then(|| {
        format!(
            "frame declares a {window}-byte window, more than the {allowed} bytes allowed for a stream that may decode to {cap} bytes"
        )
    })
}

/// One zstd frame, with the decoder's window bounded by
/// [`zstd_window_log_max`] (callers report [`zstd_window_refusal`] first;
/// this bound is the backstop); for a small bounded block, streams go
/// through [`decode`].
pub fn zstd(input: &[u8], cap: u64) -> Decoded {
    zstd_in(input, cap, None)
}

fn zstd_in(input: &[u8], cap: u64, budget: Option<&Budget>) -> Decoded {
    let log_max = zstd_window_log_max(cap);
    // The window is allocated before any output: reserve what the frame
    // declares (at most what the decoder will accept), and block buffers.
    let window = zstd_window(input).unwrap_or(1 << log_max).min(1 << log_max);
    let _work = match working(budget, window + (256 << 10)) {
        Ok(w) => w,
        Err(e) => return starved(e),
    };
    let mut rest = input;
    let mut decoder = match zstd::stream::read::Decoder::with_buffer(&mut rest) {
        Ok(d) => d.single_frame(),
        Err(e) => return failed(e.to_string()),
    };
    if let Err(e) = decoder.window_log_max(log_max) {
        return failed(e.to_string());
    }
    let mut sink = Sink::new(cap, budget);
    let error = read_into(decoder, &mut sink);
    sink.finish(input.len() - rest.len(), error)
}

/// The largest block an LZ4 frame header declares (its BD byte), 4 MiB when
/// the header is unreadable.
fn lz4_block_max(input: &[u8]) -> u64 {
    match input.get(5).map(|bd| (bd >> 4) & 7) {
        Some(4) => 64 << 10,
        Some(5) => 256 << 10,
        Some(6) => 1 << 20,
        _ => 4 << 20,
    }
}

/// One LZ4 frame (the `04 22 4d 18` format, not the kernel's legacy one),
/// for a small bounded block; streams go through [`decode`]. `lz4_flex`
/// reports end of data at the end of a frame, before reading on.
pub fn lz4_frame(input: &[u8], cap: u64) -> Decoded {
    lz4_frame_in(input, cap, None)
}

fn lz4_frame_in(input: &[u8], cap: u64, budget: Option<&Budget>) -> Decoded {
    // lz4_flex keeps a compressed and a decompressed block, and 64 KiB of history.
    let _work = match working(budget, 2 * lz4_block_max(input) + (64 << 10)) {
        Ok(w) => w,
        Err(e) => return starved(e),
    };
    let mut counted = Counted {
        inner: input,
        count: 0,
    };
    let mut sink = Sink::new(cap, budget);
    let error = read_into(lz4_flex::frame::FrameDecoder::new(&mut counted), &mut sink);
    sink.finish(counted.count, error)
}

/// The sliding window a Brotli stream declares in its first bits (RFC 7932
/// section 9.1), in bytes; `None` for the large-window extension and invalid
/// codes, which the standard decoder refuses anyway.
fn brotli_window(input: &[u8]) -> Option<u64> {
    let bits = u32::from(*input.first()?) | u32::from(input.get(1).copied().unwrap_or(0)) << 8;
    let wbits = if bits & 1 == 0 {
        16
    } else if (bits >> 1) & 7 != 0 {
        17 + ((bits >> 1) & 7)
    } else {
        match (bits >> 4) & 7 {
            0 => 17,
            1 => return None,
            m => 8 + m,
        }
    };
    Some((1u64 << wbits) - 16)
}

fn brotli_in(input: &[u8], cap: u64, budget: Option<&Budget>) -> Decoded {
    // The ring buffer is the window (at most 16 MiB), plus the Huffman
    // tables, context maps and the 64 KiB input buffer.
    let Some(window) = brotli_window(input) else {
        return failed("not a standard Brotli stream (window bits)".into());
    };
    let _work = match working(budget, window + (512 << 10)) {
        Ok(w) => w,
        Err(e) => return starved(e),
    };
    let mut counted = Counted {
        inner: input,
        count: 0,
    };
    let mut sink = Sink::new(cap, budget);
    let error = read_into(
        brotli_decompressor::Decompressor::new(&mut counted, 64 * 1024),
        &mut sink,
    );
    sink.finish(counted.count, error)
}

/// Magic of the LZ4 legacy format (`lz4 -l`), little-endian 0x184C2102.
pub const LZ4_LEGACY_MAGIC: [u8; 4] = [0x02, 0x21, 0x4c, 0x18];
/// Every LZ4 legacy block but the last decodes to exactly this much.
const LZ4_LEGACY_BLOCK: usize = 8 << 20;
/// `LZ4_compressBound` of a legacy block: no longer chunk is a block.
pub const LZ4_LEGACY_BOUND: usize = LZ4_LEGACY_BLOCK + LZ4_LEGACY_BLOCK / 255 + 16;

/// An LZ4 legacy stream (`lz4 -l`, the Linux kernel's `.lz4`): the magic, then
/// chunks of a little-endian compressed length and one LZ4 block, each block
/// decoding to 8 MiB except the last. The format has no end marker, so the
/// stream ends at the end of the input, after a short block, or where the next
/// length cannot be a block (the kernel build appends the uncompressed size
/// there); another magic continues the stream, as the kernel reads it. For a
/// small bounded block; streams go through [`decode`].
pub fn lz4_legacy(input: &[u8], cap: u64) -> Decoded {
    lz4_legacy_in(input, cap, None)
}

fn lz4_legacy_in(input: &[u8], cap: u64, budget: Option<&Budget>) -> Decoded {
    if !input.starts_with(&LZ4_LEGACY_MAGIC) {
        return failed("not an LZ4 legacy stream".into());
    }
    let mut sink = Sink::new(cap, budget);
    let mut block = Vec::new();
    let mut work = match working(budget, 0) {
        Ok(w) => w,
        Err(e) => return starved(e),
    };
    let mut pos = 4;
    let mut end = 4;
    while let Some(raw) = input.get(pos..pos + 4) {
        let len = u32::from_le_bytes([raw[0], raw[1], raw[2], raw[3]]) as usize;
        if raw == LZ4_LEGACY_MAGIC {
            pos += 4;
            end = pos;
            continue;
        }
        if len == 0 || len > LZ4_LEGACY_BOUND {
            break;
        }
        let Some(chunk) = input.get(pos + 4..pos + 4 + len) else {
            let e = format!(
                "block at {pos:#x} needs {len} bytes, {} present",
                input.len() - pos - 4
            );
            return sink.finish(end, Some(e));
        };
        // LZ4 expands at most ~255:1, so a short chunk needs no 8 MiB buffer
        // (a chance magic then costs little).
        let most = len
            .saturating_mul(256)
            .saturating_add(64)
            .min(LZ4_LEGACY_BLOCK);
        if block.len() < most {
            if let Some(w) = &mut work
                && let Err(e) = w.grow((most - block.len()) as u64)
            {
                sink.starved = Some(e);
                return sink.finish(end, None);
            }
            block = vec![0u8; most];
        }
        let n = match lz4_flex::block::decompress_into(chunk, &mut block[..most]) {
            Ok(n) => n,
            Err(e) => return sink.finish(end, Some(format!("block at {pos:#x}: {e}"))),
        };
        pos += 4 + len;
        end = pos;
        if !sink.push(&block[..n]) {
            return sink.finish(end, None);
        }
        if n < LZ4_LEGACY_BLOCK {
            break;
        }
    }
    sink.finish(end, None)
}

/// Raw LZMA1 data with known properties and output size (no header), as JFFS2
/// nodes and squashfs blocks carry it; decoded through a synthesized `.lzma`
/// header. Match distances never exceed the output, so the dictionary is cut
/// to the output size: a hostile dictionary size cannot make the decoder
/// allocate more. For blocks: the caller charged `size`.
pub fn lzma_known_size(props: u8, dict: u32, raw: &[u8], size: usize) -> Decoded {
    if props >= 225 {
        return failed(format!("invalid LZMA properties byte {props:#x}"));
    }
    let most = (size.max(4096) as u64).next_power_of_two().min(1 << 30) as u32;
    let dict = dict.clamp(4096, most);
    let mut input = Vec::with_capacity(13 + raw.len());
    input.push(props);
    input.extend_from_slice(&dict.to_le_bytes());
    input.extend_from_slice(&(size as u64).to_le_bytes());
    input.extend_from_slice(raw);
    let mut d = lzma_alone(&input, size as u64);
    d.consumed = d.consumed.saturating_sub(13);
    d
}

/// A reader that counts the bytes taken from it.
struct Counted<R> {
    inner: R,
    count: usize,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count += n;
        Ok(n)
    }
}

/// An `.xz` stream, for a small bounded block; streams go through [`decode`].
pub fn xz(input: &[u8], cap: u64) -> Decoded {
    decode_with(Codec::Xz, input, cap, None)
}

/// An `.xz` stream holding one file system block of at most `cap` bytes:
/// its dictionary never needs more than the block (squashfs writes it so),
/// so the decoder may use no more than [`LZMA_BLOCK_MEMLIMIT`].
pub fn xz_block(input: &[u8], cap: u64) -> Decoded {
    match Stream::new_stream_decoder(LZMA_BLOCK_MEMLIMIT, 0) {
        Ok(stream) => run_lzma(stream, input, cap, None, LZMA_BLOCK_MEMLIMIT),
        Err(e) => failed(e.to_string()),
    }
}

/// A legacy `.lzma` ("LZMA alone") stream, as used by kernels and U-Boot;
/// for a small bounded block, streams go through [`decode`].
pub fn lzma_alone(input: &[u8], cap: u64) -> Decoded {
    decode_with(Codec::LzmaAlone, input, cap, None)
}

fn failed(error: String) -> Decoded {
    Decoded {
        data: Vec::new(),
        consumed: 0,
        error: Some(error),
        capped: false,
        starved: None,
        reservation: None,
    }
}

fn starved(bound: Exceeded) -> Decoded {
    Decoded {
        starved: Some(bound),
        error: None,
        ..failed(String::new())
    }
}

/// The memory limit an LZMA decoder starts with; raised (and reserved from
/// the budget) step by step while the stream asks for more.
const LZMA_FIRST_MEMLIMIT: u64 = 4 << 20;
/// The most an LZMA decoder may use: `xz -9`'s 64 MiB dictionary fits, the
/// largest (1.5 GiB) does not.
const LZMA_MAX_MEMLIMIT: u64 = 256 << 20;
/// The most an LZMA decoder of one file system block may use: squashfs
/// blocks are at most 1 MiB, and so is their dictionary.
const LZMA_BLOCK_MEMLIMIT: u64 = 16 << 20;

/// Decodes into the output vector itself (`process_vec`), not through a
/// chunk that is then copied: the copy was 2 % of unpacking a router image.
/// The decoder's memory limit starts small and doubles, reserved from the
/// budget first, only when the stream's dictionary needs it.
fn run_lzma(
    mut stream: Stream,
    input: &[u8],
    cap: u64,
    budget: Option<&Budget>,
    max_memlimit: u64,
) -> Decoded {
    let mut sink = Sink::new(cap, budget);
    let mut memlimit = LZMA_FIRST_MEMLIMIT.min(max_memlimit);
    let mut work = match working(budget, memlimit) {
        Ok(w) => w,
        Err(e) => return starved(e),
    };
    let limit = sink.limit();
    loop {
        let in_pos = stream.total_in() as usize;
        let action = if in_pos >= input.len() {
            Action::Finish
        } else {
            Action::Run
        };
        if sink.data.len() == sink.data.capacity() {
            // Room to grow, by half, but never past one byte over the cap.
            let extra = (sink.data.capacity() / 2).clamp(1, limit);
            if !sink.make_room(extra) {
                return sink.finish(in_pos, None);
            }
        }
        let before_out = sink.data.len();
        let status = stream.process_vec(&input[in_pos..], &mut sink.data, action);
        let produced = sink.data.len() - before_out;
        let consumed = stream.total_in() as usize;
        if sink.data.len() as u64 > cap {
            sink.data.truncate(cap as usize);
            sink.capped = true;
            return sink.finish(consumed, None);
        }
        match status {
            Ok(Status::StreamEnd) => return sink.finish(consumed, None),
            Ok(_) => {
                let stalled = produced == 0 && consumed == in_pos;
                if stalled && consumed >= input.len() {
                    return sink.finish(consumed, Some("unexpected end of compressed data".into()));
                }
            }
            Err(liblzma::stream::Error::MemLimit) if memlimit < max_memlimit => {
                let next = (memlimit * 2).min(max_memlimit);
                if let Some(w) = &mut work
                    && let Err(e) = w.grow(next - memlimit)
                {
                    sink.starved = Some(e);
                    return sink.finish(consumed, None);
                }
                memlimit = next;
                if let Err(e) = stream.set_memlimit(memlimit)
                    && e != liblzma::stream::Error::MemLimit
                {
                    return sink.finish(consumed, Some(e.to_string()));
                }
            }
            Err(liblzma::stream::Error::MemLimit) => {
                return sink.finish(
                    consumed,
                    Some(format!(
                        "the stream needs more than {} MiB of decoder memory",
                        max_memlimit >> 20
                    )),
                );
            }
            Err(e) => return sink.finish(consumed, Some(e.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gz(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn gzip_reports_consumed_bytes_and_ignores_trailing_data() {
        let mut input = gz(b"hello world");
        let len = input.len();
        input.extend_from_slice(b"TRAILING");
        let d = gzip(&input, 1 << 20);
        assert_eq!(d.data, b"hello world");
        assert_eq!(d.consumed, len);
        assert!(d.error.is_none());
    }

    #[test]
    fn gzip_stops_at_cap() {
        let input = gz(&vec![0u8; 100_000]);
        let d = gzip(&input, 1000);
        assert!(d.capped);
        assert_eq!(d.data.len(), 1000);
    }

    #[test]
    fn truncated_gzip_is_an_error_with_partial_output() {
        let data: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let input = gz(&data);
        let d = gzip(&input[..input.len() / 2], 1 << 20);
        assert!(d.error.is_some());
    }

    #[test]
    fn bzip2_zstd_lz4_round_trip_with_consumed_bytes() {
        let payload = b"stream payload ".repeat(50);
        let mut e = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
        e.write_all(&payload).unwrap();
        let bz = e.finish().unwrap();
        let zs = zstd::encode_all(&payload[..], 3).unwrap();
        let mut e = lz4_flex::frame::FrameEncoder::new(Vec::new());
        e.write_all(&payload).unwrap();
        let lz = e.finish().unwrap();
        for (decode, stream) in [
            (bzip2 as fn(&[u8], u64) -> Decoded, bz),
            (zstd, zs),
            (lz4_frame, lz),
        ] {
            let mut input = stream.clone();
            input.extend_from_slice(b"TRAILING JUNK");
            let d = decode(&input, 1 << 20);
            assert_eq!(d.data, payload);
            assert_eq!(d.consumed, stream.len());
            assert!(d.error.is_none() && !d.capped);
            let capped = decode(&input, 100);
            assert!(capped.capped);
            assert_eq!(capped.data.len(), 100);
            let cut = decode(&stream[..stream.len() - 5], 1 << 20);
            assert!(cut.error.is_some(), "{cut:?}");
        }
    }

    #[test]
    fn zstd_window_is_bounded_by_the_output_cap() {
        assert_eq!(zstd_window_log_max(0), 23);
        assert_eq!(zstd_window_log_max(1 << 20), 23);
        assert_eq!(zstd_window_log_max((16 << 20) + 1), 25);
        assert_eq!(zstd_window_log_max(u64::MAX), 27);
        // A frame header declaring a 64 MiB window (exponent 16), then junk.
        let mut big = vec![0x28, 0xb5, 0x2f, 0xfd, 0x00, 16 << 3];
        big.extend_from_slice(&[0u8; 32]);
        assert_eq!(zstd_window(&big), Some(64 << 20));
        let why = zstd_window_refusal(&big, 1 << 20).unwrap();
        assert!(why.contains("67108864-byte window"), "{why}");
        assert_eq!(zstd_window_refusal(&big, 64 << 20), None);
        // The decoder itself refuses it too, before allocating the window.
        assert!(zstd(&big, 1 << 20).error.is_some());
        // Single segment: the content size is the window.
        let small = zstd::bulk::compress(b"tiny", 3).unwrap();
        assert_eq!(zstd_window(&small), Some(4));
        assert_eq!(zstd_window_refusal(&small, 1), None);
        let text = b"window test ".repeat(100);
        let mut e = zstd::stream::write::Encoder::new(Vec::new(), 19).unwrap();
        e.include_contentsize(false).unwrap();
        e.write_all(&text).unwrap();
        let streamed = e.finish().unwrap();
        // No content size: the window of level 19 (at most 8 MiB), allowed
        // even for the smallest cap.
        assert!(zstd_window(&streamed).unwrap() <= 8 << 20);
        assert_eq!(zstd(&streamed, 1 << 20).data, text);
    }

    #[test]
    fn xz_round_trip_and_truncation() {
        let mut e = liblzma::write::XzEncoder::new(Vec::new(), 6);
        e.write_all(b"xz payload xz payload").unwrap();
        let input = e.finish().unwrap();
        let d = xz(&input, 1 << 20);
        assert_eq!(d.data, b"xz payload xz payload");
        assert_eq!(d.consumed, input.len());
        let t = xz(&input[..input.len() - 10], 1 << 20);
        assert!(t.error.is_some());
    }
}

//! Bounded stream decompressors shared by the compression layers and by
//! containers that declare a payload codec (uImage, ...).
//!
//! Each returns how many input bytes the stream used, so that carving can step
//! over it, and stops at `cap` output bytes so that a bomb cannot exhaust memory.

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
}

/// Reads from `reader` into a vector until EOF, an error, or `cap` bytes.
fn read_capped(mut reader: impl Read, cap: u64) -> (Vec<u8>, Option<String>, bool) {
    let mut out = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match reader.read(&mut buf) {
            Ok(0) => return (out, None, false),
            Ok(n) => {
                if out.len() as u64 + n as u64 > cap {
                    let keep = (cap - out.len() as u64) as usize;
                    out.extend_from_slice(&buf[..keep]);
                    return (out, None, true);
                }
                out.extend_from_slice(&buf[..n]);
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return (out, Some(e.to_string()), false),
        }
    }
}

/// One gzip member (RFC 1952).
pub fn gzip(input: &[u8], cap: u64) -> Decoded {
    let mut rest = input;
    let (data, error, capped) = read_capped(GzDecoder::new(&mut rest), cap);
    Decoded {
        consumed: input.len() - rest.len(),
        data,
        error,
        capped,
    }
}

/// A zlib stream (RFC 1950). Unlike a reader over `flate2`, which takes
/// input that ends early for a finished stream, this reports an error unless
/// the stream reached its end and its Adler-32 matched.
pub fn zlib(input: &[u8], cap: u64) -> Decoded {
    use flate2::{Decompress, FlushDecompress, Status};
    let mut z = Decompress::new(true);
    let mut out: Vec<u8> = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let in_pos = z.total_in() as usize;
        let before = z.total_out();
        let status = z.decompress(&input[in_pos..], &mut chunk, FlushDecompress::None);
        let produced = (z.total_out() - before) as usize;
        let room = cap.saturating_sub(out.len() as u64) as usize;
        out.extend_from_slice(&chunk[..produced.min(room)]);
        let consumed = z.total_in() as usize;
        let (error, capped) = match status {
            _ if produced > room => (None, true),
            Ok(Status::StreamEnd) => (None, false),
            Ok(_) if produced == 0 && consumed == in_pos => {
                (Some("unexpected end of compressed data".to_string()), false)
            }
            Ok(_) => continue,
            Err(e) => (Some(e.to_string()), false),
        };
        return Decoded {
            data: out,
            consumed,
            error,
            capped,
        };
    }
}

/// One bzip2 stream (`BZh`), stopping at its end-of-stream marker.
pub fn bzip2(input: &[u8], cap: u64) -> Decoded {
    let mut rest = input;
    let (data, error, capped) = read_capped(bzip2::bufread::BzDecoder::new(&mut rest), cap);
    Decoded {
        consumed: input.len() - rest.len(),
        data,
        error,
        capped,
    }
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
/// this bound is the backstop).
pub fn zstd(input: &[u8], cap: u64) -> Decoded {
    let mut rest = input;
    let mut decoder = match zstd::stream::read::Decoder::with_buffer(&mut rest) {
        Ok(d) => d.single_frame(),
        Err(e) => return failed(e.to_string()),
    };
    if let Err(e) = decoder.window_log_max(zstd_window_log_max(cap)) {
        return failed(e.to_string());
    }
    let (data, error, capped) = read_capped(decoder, cap);
    Decoded {
        consumed: input.len() - rest.len(),
        data,
        error,
        capped,
    }
}

/// One LZ4 frame (the `04 22 4d 18` format, not the kernel's legacy one).
/// `lz4_flex` reports end of data at the end of a frame, before reading on.
pub fn lz4_frame(input: &[u8], cap: u64) -> Decoded {
    let mut counted = Counted {
        inner: input,
        count: 0,
    };
    let (data, error, capped) = read_capped(lz4_flex::frame::FrameDecoder::new(&mut counted), cap);
    Decoded {
        consumed: counted.count,
        data,
        error,
        capped,
    }
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
/// there); another magic continues the stream, as the kernel reads it.
pub fn lz4_legacy(input: &[u8], cap: u64) -> Decoded {
    if !input.starts_with(&LZ4_LEGACY_MAGIC) {
        return failed("not an LZ4 legacy stream".into());
    }
    let mut out: Vec<u8> = Vec::new();
    let mut block = Vec::new();
    let mut pos = 4;
    let mut end = 4;
    let result = |data, consumed, error, capped| Decoded {
        data,
        consumed,
        error,
        capped,
    };
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
            return result(out, end, Some(e), false);
        };
        // LZ4 expands at most ~255:1, so a short chunk needs no 8 MiB buffer
        // (a chance magic then costs little).
        let most = len
            .saturating_mul(256)
            .saturating_add(64)
            .min(LZ4_LEGACY_BLOCK);
        if block.len() < most {
            block = vec![0u8; most];
        }
        let n = match lz4_flex::block::decompress_into(chunk, &mut block[..most]) {
            Ok(n) => n,
            Err(e) => return result(out, end, Some(format!("block at {pos:#x}: {e}")), false),
        };
        pos += 4 + len;
        end = pos;
        let room = cap.saturating_sub(out.len() as u64) as usize;
        out.extend_from_slice(&block[..n.min(room)]);
        if n > room {
            return result(out, end, None, true);
        }
        if n < LZ4_LEGACY_BLOCK {
            break;
        }
    }
    result(out, end, None, false)
}

/// Raw LZMA1 data with known properties and output size (no header), as JFFS2
/// nodes and squashfs blocks carry it; decoded through a synthesized `.lzma`
/// header. Match distances never exceed the output, so the dictionary is cut
/// to the output size: a hostile dictionary size cannot make the decoder
/// allocate more.
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

/// An `.xz` stream.
pub fn xz(input: &[u8], cap: u64) -> Decoded {
    match Stream::new_stream_decoder(256 << 20, 0) {
        Ok(stream) => run_lzma(stream, input, cap),
        Err(e) => failed(e.to_string()),
    }
}

/// A legacy `.lzma` ("LZMA alone") stream, as used by kernels and U-Boot.
pub fn lzma_alone(input: &[u8], cap: u64) -> Decoded {
    match Stream::new_lzma_decoder(256 << 20) {
        Ok(stream) => run_lzma(stream, input, cap),
        Err(e) => failed(e.to_string()),
    }
}

fn failed(error: String) -> Decoded {
    Decoded {
        data: Vec::new(),
        consumed: 0,
        error: Some(error),
        capped: false,
    }
}

/// Decodes into the output vector itself (`process_vec`), not through a
/// chunk that is then copied: the copy was 2 % of unpacking a router image.
/// The vector grows by doubling but never past one byte more than `cap`, so
/// a bomb costs no more memory than before.
fn run_lzma(mut stream: Stream, input: &[u8], cap: u64) -> Decoded {
    const FIRST: usize = 256 * 1024;
    // One byte past the cap tells a stream that goes on from one that ends.
    let limit = usize::try_from(cap).unwrap_or(usize::MAX).saturating_add(1);
    let mut out: Vec<u8> = Vec::new();
    loop {
        let in_pos = stream.total_in() as usize;
        let action = if in_pos >= input.len() {
            Action::Finish
        } else {
            Action::Run
        };
        if out.len() == out.capacity() {
            let want = out
                .capacity()
                .saturating_mul(2)
                .clamp(FIRST.min(limit), limit);
            out.reserve_exact(want - out.len());
        }
        let before_out = out.len();
        let status = stream.process_vec(&input[in_pos..], &mut out, action);
        let produced = out.len() - before_out;
        let consumed = stream.total_in() as usize;
        if out.len() as u64 > cap {
            out.truncate(cap as usize);
            return Decoded {
                data: out,
                consumed,
                error: None,
                capped: true,
            };
        }
        match status {
            Ok(Status::StreamEnd) => {
                return Decoded {
                    data: out,
                    consumed,
                    error: None,
                    capped: false,
                };
            }
            Ok(_) => {
                let stalled = produced == 0 && consumed == in_pos;
                if stalled && consumed >= input.len() {
                    return Decoded {
                        data: out,
                        consumed,
                        error: Some("unexpected end of compressed data".into()),
                        capped: false,
                    };
                }
            }
            Err(e) => {
                return Decoded {
                    data: out,
                    consumed,
                    error: Some(e.to_string()),
                    capped: false,
                };
            }
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

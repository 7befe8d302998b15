//! gzip member (RFC 1952) found at any offset; yields the decompressed stream.

use super::{Entry, Extracted, Format, Problem, Rejection};
use crate::unpack::compress::{self, Codec, Decoded};
use crate::unpack::limits::Budget;
use crate::unpack::tree::EntryKind;

pub struct Gzip;

/// Output below which a failing stream is taken for a chance magic, not a corrupt one.
pub const MIN_CREDIBLE_OUTPUT: usize = 64;

impl Format for Gzip {
    fn name(&self) -> &'static str {
        "gzip"
    }

    fn magics(&self) -> &'static [&'static [u8]] {
        &[&[0x1f, 0x8b, 0x08]]
    }

    fn extract(&self, data: &[u8], budget: &mut Budget) -> Result<Extracted, Rejection> {
        let flags = *data.get(3).ok_or(Rejection::NotThisFormat)?;
        let xfl = *data.get(8).ok_or(Rejection::NotThisFormat)?;
        if flags & 0xe0 != 0 || !matches!(xfl, 0 | 2 | 4) {
            return Err(Rejection::NotThisFormat);
        }
        let name = original_name(data, flags).unwrap_or_else(|| "data".to_string());
        let decoded = compress::decode(Codec::Gzip, data, budget);
        stream_entry(self.name(), name, decoded, budget)
    }
}

/// A gzip member inside an executable (curl embeds its manual so). Carving
/// inside executables otherwise finds only chance magics, so the member is
/// accepted only when it decodes completely and its trailer's CRC-32 and
/// ISIZE match the output; anything else is taken for chance, silently.
pub fn extract_verified(data: &[u8], budget: &mut Budget) -> Result<Extracted, Rejection> {
    let flags = *data.get(3).ok_or(Rejection::NotThisFormat)?;
    let xfl = *data.get(8).ok_or(Rejection::NotThisFormat)?;
    if flags & 0xe0 != 0 || !matches!(xfl, 0 | 2 | 4) {
        return Err(Rejection::NotThisFormat);
    }
    let decoded = compress::decode(Codec::Gzip, data, budget);
    if decoded.stopped() {
        // Only a real stream decodes that far; it is too large to verify.
        return Err(Rejection::Limit(format!(
            "gzip stream stopped at {} output bytes ({}); not verified, not extracted",
            decoded.data.len(),
            stop_cause(&decoded, data.len(), budget)
        )));
    }
    let trailer = decoded
        .consumed
        .checked_sub(8)
        .and_then(|at| data.get(at..decoded.consumed));
    let verified = decoded.error.is_none()
        && trailer.is_some_and(|t| {
            let crc = u32::from_le_bytes([t[0], t[1], t[2], t[3]]);
            let isize = u32::from_le_bytes([t[4], t[5], t[6], t[7]]);
            crc == crc32fast::hash(&decoded.data) && isize == decoded.data.len() as u32
        });
    if !verified {
        return Err(Rejection::NotThisFormat);
    }
    let name = original_name(data, flags).unwrap_or_else(|| "data".to_string());
    stream_entry("gzip", name, decoded, budget)
}

/// FNAME from the header, reduced to a safe single path component.
fn original_name(data: &[u8], flags: u8) -> Option<String> {
    const FEXTRA: u8 = 0x04;
    const FNAME: u8 = 0x08;
    if flags & FNAME == 0 {
        return None;
    }
    let mut at = 10;
    if flags & FEXTRA != 0 {
        let xlen = u16::from_le_bytes([*data.get(10)?, *data.get(11)?]) as usize;
        at += 2 + xlen;
    }
    let rest = data.get(at..)?;
    let end = rest.iter().take(256).position(|&b| b == 0)?;
    let name = String::from_utf8_lossy(&rest[..end]);
    let base = name.rsplit('/').next().unwrap_or("");
    (!base.is_empty() && base != "." && base != "..").then(|| base.to_string())
}

/// Which bound stopped a stream: the memory bound, or the cap
/// ([`Budget::output_cap_cause`] of its input).
pub fn stop_cause(decoded: &Decoded, input_len: usize, budget: &Budget) -> String {
    match decoded.starved {
        Some(bound) => bound.to_string(),
        None => budget.output_cap_cause(input_len as u64),
    }
}

/// Turns one decoded stream into a single-entry layer, shared by the stream codecs.
pub fn stream_entry(
    codec: &str,
    name: String,
    mut decoded: Decoded,
    budget: &mut Budget,
) -> Result<Extracted, Rejection> {
    let mut notes = Vec::new();
    if let Some(e) = &decoded.error {
        if decoded.data.len() < MIN_CREDIBLE_OUTPUT {
            return Err(Rejection::NotThisFormat);
        }
        notes.push(Problem::Error(format!(
            "{codec} stream is truncated or corrupt after {} output bytes ({} input bytes): {e}",
            decoded.data.len(),
            decoded.consumed
        )));
    }
    if decoded.stopped() {
        notes.push(Problem::Limit(format!(
            "{codec} stream stopped at {} output bytes from {} input bytes: {}",
            decoded.data.len(),
            decoded.consumed,
            stop_cause(&decoded, decoded.consumed, budget)
        )));
    }
    if let Err(bound) = budget.entry().and_then(|()| decoded.keep(budget)) {
        return Err(Rejection::Limit(format!(
            "{codec} stream of {} output bytes not kept: {bound}",
            decoded.data.len()
        )));
    }
    Ok(Extracted {
        size: decoded.consumed as u64,
        entries: vec![Entry {
            path: name,
            kind: EntryKind::File,
            data: decoded.data,
            meta: None,
        }],
        filesystem: false,
        scanned_in_place: false,
        detail: None,
        notes,
    })
}

//! Matter (CSA) OTA image files: a fixed prefix (file identifier
//! 0x1BEEF11E, total size, header size, little-endian), a Matter-TLV
//! header (vendor and product id, software version and its string, payload
//! size, applicable versions, release notes URL, image digest) and the
//! payload. The header's facts go in the layer detail; the payload, its
//! digest checked when it is SHA-256/384/512, becomes `payload.bin`.

use super::{Entry, Extracted, Format, Problem, Rejection, le32, le64};
use crate::unpack::limits::Budget;
use crate::unpack::tree::EntryKind;
use sha2::Digest;

pub struct MatterOta;

const MAGIC: &[u8] = &[0x1e, 0xf1, 0xee, 0x1b];
const PREFIX_LEN: usize = 16;
/// The header is small (a few strings and numbers); the spec bounds its
/// strings to 64 and 256 bytes and the digest to 64.
const MAX_HEADER: usize = 4096;

/// One value of the header structure.
#[derive(Debug, Clone, PartialEq)]
enum Value {
    Uint(u64),
    Text(String),
    Bytes(Vec<u8>),
    Other,
}

/// The context-tagged members of the anonymous top-level TLV structure.
fn parse_tlv(b: &[u8]) -> Result<Vec<(u8, Value)>, String> {
    if b.first() != Some(&0x15) {
        return Err("header is not a TLV structure".into());
    }
    let mut at = 1;
    let mut out = Vec::new();
    let take = |at: &mut usize, n: usize| -> Result<&[u8], String> {
        let s = b
            .get(*at..*at + n)
            .ok_or_else(|| format!("TLV element runs past the header at {at}"))?;
        *at += n;
        Ok(s)
    };
    let uint = |s: &[u8]| s.iter().rev().fold(0u64, |v, &x| v << 8 | u64::from(x));
    loop {
        let control = take(&mut at, 1)?[0];
        if control == 0x18 {
            return Ok(out);
        }
        let tag = match control >> 5 {
            0 => None,
            1 => Some(take(&mut at, 1)?[0]),
            _ => {
                return Err(format!(
                    "TLV tag form {:#x} is not used by OTA headers",
                    control >> 5
                ));
            }
        };
        let ty = control & 0x1f;
        let value = match ty {
            0x00..=0x07 => Value::Uint(uint(take(&mut at, 1 << (ty & 3))?)),
            0x08 | 0x09 | 0x14 => Value::Other,
            0x0a => {
                take(&mut at, 4)?;
                Value::Other
            }
            0x0b => {
                take(&mut at, 8)?;
                Value::Other
            }
            0x0c..=0x13 => {
                let len_bytes = 1 << (ty & 3);
                let len = uint(take(&mut at, len_bytes)?) as usize;
                let s = take(&mut at, len)?;
                if ty < 0x10 {
                    Value::Text(String::from_utf8_lossy(s).into_owned())
                } else {
                    Value::Bytes(s.to_vec())
                }
            }
            _ => {
                return Err(format!(
                    "TLV element type {ty:#x} is not used by OTA headers"
                ));
            }
        };
        if let Some(tag) = tag {
            out.push((tag, value));
        }
    }
}

impl Format for MatterOta {
    fn name(&self) -> &'static str {
        "matter-ota"
    }

    fn magics(&self) -> &'static [&'static [u8]] {
        &[MAGIC]
    }

    fn declared_len(&self, data: &[u8]) -> Option<u64> {
        le64(data, 4)
    }

    fn extract(&self, data: &[u8], budget: &mut Budget) -> Result<Extracted, Rejection> {
        let (Some(total), Some(header_len)) = (le64(data, 4), le32(data, 12)) else {
            return Err(Rejection::NotThisFormat);
        };
        let header_len = header_len as usize;
        if !(2..=MAX_HEADER).contains(&header_len) || total < (PREFIX_LEN + header_len) as u64 {
            return Err(Rejection::NotThisFormat);
        }
        let header = data
            .get(PREFIX_LEN..PREFIX_LEN + header_len)
            .ok_or(Rejection::NotThisFormat)?;
        let fields = parse_tlv(header).map_err(|_| Rejection::NotThisFormat)?;
        let get = |tag: u8| fields.iter().find(|(t, _)| *t == tag).map(|(_, v)| v);
        let (
            Some(Value::Uint(vendor)),
            Some(Value::Uint(product)),
            Some(Value::Uint(version)),
            Some(Value::Text(version_text)),
            Some(Value::Uint(payload_len)),
        ) = (get(0), get(1), get(2), get(3), get(4))
        else {
            return Err(Rejection::Corrupt(
                "Matter OTA header lacks a required field (vendor, product, versions, payload size)"
                    .into(),
            ));
        };
        let payload_at = PREFIX_LEN + header_len;
        if total != payload_at as u64 + payload_len {
            return Err(Rejection::Corrupt(format!(
                "Matter OTA sizes disagree: total {total}, header {header_len}, payload {payload_len}"
            )));
        }
        let mut facts = vec![format!(
            "Matter OTA image, vendor {vendor:#06x}, product {product:#06x}, software version {version} ({version_text:?})"
        )];
        if let Some(Value::Uint(min)) = get(5) {
            facts.push(format!("applies from version {min}"));
        }
        if let Some(Value::Uint(max)) = get(6) {
            facts.push(format!("up to version {max}"));
        }
        if let Some(Value::Text(url)) = get(7) {
            facts.push(format!("release notes {url}"));
        }
        let mut out = Extracted {
            size: total,
            ..Default::default()
        };
        let Some(payload) = usize::try_from(total)
            .ok()
            .and_then(|end| data.get(payload_at..end))
        else {
            out.detail = Some(facts.join(", "));
            out.notes.push(Problem::Error(format!(
                "Matter OTA image is truncated: header says {total} bytes, only {} present",
                data.len()
            )));
            out.size = data.len() as u64;
            return Ok(out);
        };
        match (get(8), get(9)) {
            (Some(Value::Uint(kind)), Some(Value::Bytes(want))) => {
                // IANA Named Information hash algorithm registry ids.
                let (name, got): (&str, Option<Vec<u8>>) = match kind {
                    1 => ("SHA-256", Some(sha2::Sha256::digest(payload).to_vec())),
                    7 => ("SHA-384", Some(sha2::Sha384::digest(payload).to_vec())),
                    8 => ("SHA-512", Some(sha2::Sha512::digest(payload).to_vec())),
                    _ => ("digest", None),
                };
                match got {
                    Some(got) if &got == want => facts.push(format!("{name} digest checked")),
                    Some(_) => out.notes.push(Problem::Error(format!(
                        "Matter OTA payload does not match its {name} digest"
                    ))),
                    None => facts.push(format!("digest type {kind} not checked")),
                }
            }
            _ => facts.push("no digest".into()),
        }
        out.detail = Some(facts.join(", "));
        let charged = budget
            .entry()
            .and_then(|()| budget.charge_file(payload.len() as u64));
        if let Err(bound) = charged {
            out.notes.push(Problem::Limit(format!(
                "Matter OTA: {bound} reached; payload dropped"
            )));
        } else {
            out.entries.push(Entry {
                path: "payload.bin".into(),
                kind: EntryKind::File,
                data: payload.to_vec(),
                meta: None,
            });
        }
        Ok(out)
    }
}

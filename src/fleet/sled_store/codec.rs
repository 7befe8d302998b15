//! Compact encodings of what the fleet store keeps: length-prefixed binary
//! records for index values (read 100,000 times by one fleet-wide query, so
//! not JSON), and zstd-compressed JSON for image records (big, read whole,
//! and their layout follows `ScanReport`, so it stays self-describing).
//!
//! The advisory index value ([`AdvisoryHit`]) lives here too.
//!
//! Decoding never panics: a truncated or corrupt value is an error naming
//! what it was.

use crate::model::Severity;
use serde::{Deserialize, Serialize};

/// Appends unsigned LEB128 integers and length-prefixed strings.
#[derive(Default)]
pub(crate) struct Writer {
    pub(crate) bytes: Vec<u8>,
}

impl Writer {
    pub(crate) fn uint(&mut self, mut v: u64) {
        loop {
            let byte = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                self.bytes.push(byte);
                return;
            }
            self.bytes.push(byte | 0x80);
        }
    }

    pub(crate) fn str(&mut self, s: &str) {
        self.uint(s.len() as u64);
        self.bytes.extend_from_slice(s.as_bytes());
    }

    pub(crate) fn strs<S: AsRef<str>>(&mut self, list: &[S]) {
        self.uint(list.len() as u64);
        for s in list {
            self.str(s.as_ref());
        }
    }
}

/// Reads what [`Writer`] wrote, borrowing strings from the input.
pub(crate) struct Reader<'a> {
    bytes: &'a [u8],
    what: &'static str,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(bytes: &'a [u8], what: &'static str) -> Reader<'a> {
        Reader { bytes, what }
    }

    pub(crate) fn corrupt(&self) -> String {
        format!("fleet store: corrupt {}", self.what)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    pub(crate) fn uint(&mut self) -> Result<u64, String> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let (&byte, rest) = self.bytes.split_first().ok_or_else(|| self.corrupt())?;
            self.bytes = rest;
            v |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(self.corrupt())
    }

    pub(crate) fn len(&mut self) -> Result<usize, String> {
        let n = self.uint()?;
        // No length can exceed what is left to read.
        usize::try_from(n)
            .ok()
            .filter(|&n| n <= self.bytes.len())
            .ok_or_else(|| self.corrupt())
    }

    pub(crate) fn str(&mut self) -> Result<&'a str, String> {
        let n = self.len()?;
        let (s, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        std::str::from_utf8(s).map_err(|_| self.corrupt())
    }

    #[cfg(test)]
    pub(crate) fn strs(&mut self) -> Result<Vec<String>, String> {
        let n = self.len()?;
        (0..n).map(|_| self.str().map(str::to_string)).collect()
    }
}

/// What the advisory index keeps, so `needs-patch` answers without loading images.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AdvisoryHit {
    pub advisory: String,
    pub component: String,
    pub severity: Severity,
    pub fixed_versions: Vec<String>,
    #[serde(default)]
    pub upgrade: Option<String>,
}

impl AdvisoryHit {
    /// `rank advisory component fixed-versions upgrade?`, length-prefixed.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::default();
        w.uint(u64::from(severity_rank(self.severity)));
        w.str(&self.advisory);
        w.str(&self.component);
        w.strs(&self.fixed_versions);
        match &self.upgrade {
            Some(u) => {
                w.uint(1);
                w.str(u);
            }
            None => w.uint(0),
        }
        w.bytes
    }

    pub fn decode(bytes: &[u8]) -> Result<AdvisoryHit, String> {
        let mut fixed_versions = Vec::new();
        let hit = HitRef::parse(bytes, |f| fixed_versions.push(f.to_string()))?;
        Ok(AdvisoryHit {
            advisory: hit.advisory.to_string(),
            component: hit.component.to_string(),
            severity: hit.severity,
            fixed_versions,
            upgrade: hit.upgrade.map(str::to_string),
        })
    }
}

/// An [`AdvisoryHit`] read in place: what a query needs, borrowed from
/// the index value (a fleet-wide query reads tens of thousands).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HitRef<'a> {
    pub severity: Severity,
    pub advisory: &'a str,
    pub component: &'a str,
    /// The first of the advisory's fixed versions.
    pub first_fixed: Option<&'a str>,
    pub upgrade: Option<&'a str>,
}

impl<'a> HitRef<'a> {
    pub fn decode(bytes: &'a [u8]) -> Result<HitRef<'a>, String> {
        Self::parse(bytes, |_| {})
    }

    fn parse(bytes: &'a [u8], mut fixed: impl FnMut(&'a str)) -> Result<HitRef<'a>, String> {
        let mut r = Reader::new(bytes, "advisory index entry");
        let severity = u8::try_from(r.uint()?)
            .ok()
            .and_then(severity_of_rank)
            .ok_or_else(|| r.corrupt())?;
        let advisory = r.str()?;
        let component = r.str()?;
        let mut first_fixed = None;
        for _ in 0..r.len()? {
            let f = r.str()?;
            first_fixed.get_or_insert(f);
            fixed(f);
        }
        let upgrade = match r.uint()? {
            0 => None,
            1 => Some(r.str()?),
            _ => return Err(r.corrupt()),
        };
        if !r.is_empty() {
            return Err(r.corrupt());
        }
        Ok(HitRef {
            severity,
            advisory,
            component,
            first_fixed,
            upgrade,
        })
    }
}

use crate::fleet::derived::severity_of_rank;
/// A severity's rank on disk: the first byte of `idx_severity` keys, in
/// the order of [`Severity`]'s `Ord` (so a range scan from a rank reads
/// that severity and every worse one).
pub use crate::fleet::derived::severity_rank;

/// The zstd frame magic: an image record starting with it is compressed
/// JSON; one starting with `{` is plain JSON (schema 1).
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];

/// zstd level for image records: level 3 (zstd's default) compresses a
/// 50 KB scan record about tenfold at a few hundred MB/s.
const ZSTD_LEVEL: i32 = 3;

/// An image record as stored: JSON, zstd-compressed.
pub(crate) fn encode_record<T: Serialize>(value: &T) -> Result<Vec<u8>, String> {
    let json = serde_json::to_vec(value).map_err(|e| e.to_string())?;
    zstd::bulk::compress(&json, ZSTD_LEVEL).map_err(|e| format!("fleet store: {e}"))
}

/// Reads an image record in either encoding (compressed, or schema 1's plain JSON).
pub(crate) fn decode_record<T: for<'de> Deserialize<'de>>(
    what: &str,
    bytes: &[u8],
) -> Result<T, String> {
    if bytes.starts_with(&ZSTD_MAGIC) {
        let json = zstd::stream::decode_all(bytes)
            .map_err(|e| format!("fleet store: corrupt {what}: {e}"))?;
        serde_json::from_slice(&json).map_err(|e| format!("fleet store: corrupt {what}: {e}"))
    } else {
        serde_json::from_slice(bytes).map_err(|e| format!("fleet store: corrupt {what}: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_and_strings_round_trip() {
        let mut w = Writer::default();
        for v in [0, 1, 127, 128, 300, u64::from(u32::MAX), u64::MAX] {
            w.uint(v);
        }
        w.str("dev-000001");
        w.strs(&["eu", "lab", ""]);
        let mut r = Reader::new(&w.bytes, "test value");
        for v in [0, 1, 127, 128, 300, u64::from(u32::MAX), u64::MAX] {
            assert_eq!(r.uint().unwrap(), v);
        }
        assert_eq!(r.str().unwrap(), "dev-000001");
        assert_eq!(r.strs().unwrap(), ["eu", "lab", ""]);
        assert!(r.is_empty());
    }

    #[test]
    fn truncated_or_corrupt_values_are_errors() {
        let mut w = Writer::default();
        w.str("openssl@1.1.1k");
        for cut in 0..w.bytes.len() {
            let mut r = Reader::new(&w.bytes[..cut], "advisory index entry");
            assert_eq!(
                r.str().unwrap_err(),
                "fleet store: corrupt advisory index entry"
            );
        }
        // A length far beyond the value, and a never-ending integer.
        assert!(Reader::new(&[0xff, 0xff, 0x03, b'a'], "x").str().is_err());
        assert!(Reader::new(&[0xff; 12], "x").uint().is_err());
        assert!(Reader::new(&[2, 0xff, 0xfe], "x").str().is_err());
    }

    #[test]
    fn records_read_in_both_encodings() {
        let value = serde_json::json!({"a": [1, 2, 3], "b": "x".repeat(1000)});
        let packed = encode_record(&value).unwrap();
        assert!(packed.starts_with(&ZSTD_MAGIC) && packed.len() < 100);
        let back: serde_json::Value = decode_record("image", &packed).unwrap();
        assert_eq!(back, value);
        let plain = serde_json::to_vec(&value).unwrap();
        let back: serde_json::Value = decode_record("image", &plain).unwrap();
        assert_eq!(back, value);
        let mut bad = packed.clone();
        bad.truncate(packed.len() / 2);
        assert!(
            decode_record::<serde_json::Value>("image", &bad)
                .unwrap_err()
                .starts_with("fleet store: corrupt image")
        );
    }
}

//! Encrypted containers fwaudit names but cannot open (no public key or
//! password): each is a layer of kind `encrypted` whose detail says what it
//! is, so a report says "encrypted LUKS2 volume, aes-xts-plain64" instead of
//! "nothing recognised". The bytes are claimed, so nothing is carved from
//! ciphertext. A header must check out first: the magic strings also sit in
//! the string tables of the tools that write them.

use super::{Extracted, Format, Rejection, be16, be32};
use crate::unpack::limits::Budget;
use memchr::memmem;

/// LUKS 1 and 2 (`cryptsetup`): cipher, mode and hash from the header; for
/// LUKS2 the segment encryption from the JSON area.
pub struct Luks;

/// `openssl enc` output with a salt (`Salted__` + 8 bytes), which vendors
/// use with a password baked into the updater.
pub struct OpensslSalted;

/// An ASCII-armoured OpenPGP message (`gpg --armor --encrypt`).
pub struct PgpArmor;

fn c_string(bytes: &[u8]) -> Option<String> {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    let s = std::str::from_utf8(&bytes[..end]).ok()?;
    (!s.is_empty() && s.bytes().all(|b| b.is_ascii_graphic())).then(|| s.to_string())
}

fn sealed(size: usize, detail: String) -> Extracted {
    Extracted {
        size: size as u64,
        detail: Some(detail),
        ..Default::default()
    }
}

impl Format for Luks {
    fn name(&self) -> &'static str {
        "encrypted"
    }

    fn magics(&self) -> &'static [&'static [u8]] {
        &[b"LUKS\xba\xbe"]
    }

    fn extract(&self, data: &[u8], _budget: &mut Budget) -> Result<Extracted, Rejection> {
        let version = be16(data, 6).ok_or(Rejection::NotThisFormat)?;
        let header = data.get(..512).ok_or(Rejection::NotThisFormat)?;
        match version {
            1 => {
                let (Some(cipher), Some(mode), Some(hash)) = (
                    c_string(&header[8..40]),
                    c_string(&header[40..72]),
                    c_string(&header[72..104]),
                ) else {
                    return Err(Rejection::NotThisFormat);
                };
                let key_bits = be32(header, 108).unwrap_or(0) * 8;
                Ok(sealed(
                    data.len(),
                    format!(
                        "LUKS1 encrypted volume, {cipher}-{mode}, {key_bits}-bit key, {hash}; no key to open it"
                    ),
                ))
            }
            2 => {
                let hdr_size = super::be64(header, 8).unwrap_or(0);
                if !(4096..=4 << 20).contains(&hdr_size) {
                    return Err(Rejection::NotThisFormat);
                }
                let json = data
                    .get(4096..(hdr_size as usize).min(data.len()))
                    .unwrap_or_default();
                let encryption = memmem::find(json, b"\"encryption\":")
                    .and_then(|at| {
                        let rest = &json[at + 13..];
                        let start = rest.iter().position(|&b| b == b'"')? + 1;
                        let len = rest[start..].iter().position(|&b| b == b'"')?;
                        c_string(&rest[start..start + len])
                    })
                    .unwrap_or_else(|| "cipher not read".into());
                Ok(sealed(
                    data.len(),
                    format!("LUKS2 encrypted volume, {encryption}; no key to open it"),
                ))
            }
            _ => Err(Rejection::NotThisFormat),
        }
    }
}

/// Bits of entropy per byte of `bytes`: ciphertext is close to 8.
fn entropy(bytes: &[u8]) -> f64 {
    let mut counts = [0u64; 256];
    for &b in bytes {
        counts[b as usize] += 1;
    }
    let n = bytes.len() as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = c as f64 / n;
            -p * p.log2()
        })
        .sum()
}

impl Format for OpensslSalted {
    fn name(&self) -> &'static str {
        "encrypted"
    }

    fn magics(&self) -> &'static [&'static [u8]] {
        &[b"Salted__"]
    }

    fn extract(&self, data: &[u8], _budget: &mut Budget) -> Result<Extracted, Rejection> {
        // `Salted__` also sits in every libcrypto: only ciphertext after it
        // (at least 1 KiB of near-random bytes) makes it a container.
        let body = data.get(16..).ok_or(Rejection::NotThisFormat)?;
        let sample = &body[..body.len().min(64 * 1024)];
        if sample.len() < 1024 || entropy(sample) < 7.5 {
            return Err(Rejection::NotThisFormat);
        }
        Ok(sealed(
            data.len(),
            format!(
                "OpenSSL `enc` ciphertext (salt {}), {} bytes; password unknown",
                hex::encode(&data[8..16]),
                body.len()
            ),
        ))
    }
}

impl Format for PgpArmor {
    fn name(&self) -> &'static str {
        "encrypted"
    }

    fn magics(&self) -> &'static [&'static [u8]] {
        &[b"-----BEGIN PGP MESSAGE-----"]
    }

    fn extract(&self, data: &[u8], _budget: &mut Budget) -> Result<Extracted, Rejection> {
        const BEGIN: &[u8] = b"-----BEGIN PGP MESSAGE-----";
        const END: &[u8] = b"-----END PGP MESSAGE-----";
        // The fuzzer calls this without the carver's magic check.
        let after = data.strip_prefix(BEGIN).ok_or(Rejection::NotThisFormat)?;
        if !matches!(after.first(), Some(b'\n' | b'\r')) {
            return Err(Rejection::NotThisFormat);
        }
        let end = memmem::find(after, END).ok_or(Rejection::NotThisFormat)?;
        // Armour is base64 lines (and `Key: value` headers): anything else
        // between the markers is not a message.
        let body = &after[..end];
        if !body
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b"+/=:- \r\n".contains(&b))
        {
            return Err(Rejection::NotThisFormat);
        }
        Ok(sealed(
            BEGIN.len() + end + END.len(),
            "OpenPGP message (ASCII armour); no key to open it".into(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn extract(format: &dyn Format, data: &[u8]) -> Result<Extracted, Rejection> {
        format.extract(data, &mut Budget::new(Default::default()))
    }

    /// libFuzzer (target `sealed`, 2026-12-06): an empty input sliced the
    /// PGP armour past its end. Every sealed format, given less than its
    /// magic, must say "not this format".
    #[test]
    fn an_input_shorter_than_the_magic_is_not_this_format() {
        let formats: [&dyn Format; 3] = [&Luks, &OpensslSalted, &PgpArmor];
        for format in formats {
            for magic in format.magics() {
                for len in 0..magic.len() {
                    assert!(
                        matches!(
                            extract(format, &magic[..len]),
                            Err(Rejection::NotThisFormat)
                        ),
                        "{} on {len} bytes of its magic",
                        format.name()
                    );
                }
            }
        }
    }

    #[test]
    fn an_armoured_message_is_claimed_to_its_end_marker() {
        let message = b"-----BEGIN PGP MESSAGE-----\n\nhQEMA0x+abc=\n=Xy12\n-----END PGP MESSAGE-----\ntrailing";
        let found = extract(&PgpArmor, message).expect("an armoured message");
        assert_eq!(found.size, (message.len() - b"\ntrailing".len()) as u64);
        assert_eq!(
            found.detail.as_deref(),
            Some("OpenPGP message (ASCII armour); no key to open it")
        );
    }
}

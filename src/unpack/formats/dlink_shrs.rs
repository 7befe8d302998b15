//! D-Link `SHRS` firmware (DIR-3040, DIR-3060, DIR-882 and kin): a 0x6DC-byte
//! header, then AES-128-CBC ciphertext. The key is the same in every image
//! (published with D-Link's own `imgdecrypt`), the IV is in the header, and
//! three SHA-512 digests let each step be checked: of the ciphertext, of the
//! plaintext, and of the plaintext followed by the key. The layer is of kind
//! `encrypted`; the plaintext becomes `decrypted.bin`, in which carving then
//! finds the uImage or UBI inside.

use super::{Entry, Extracted, Format, Problem, Rejection, be32};
use crate::unpack::limits::Budget;
use crate::unpack::tree::EntryKind;
use aes::Aes128;
use aes::cipher::{BlockDecrypt, KeyInit, generic_array::GenericArray};
use sha2::{Digest, Sha512};

pub struct DlinkShrs;

const HEADER_LEN: usize = 0x6dc;
const KEY: [u8; 16] = [
    0xc0, 0x5f, 0xbf, 0x19, 0x36, 0xc9, 0x94, 0x29, 0xce, 0x2a, 0x07, 0x81, 0xf0, 0x8d, 0x6a, 0xd8,
];

impl Format for DlinkShrs {
    fn name(&self) -> &'static str {
        "encrypted"
    }

    fn magics(&self) -> &'static [&'static [u8]] {
        &[b"SHRS"]
    }

    fn declared_len(&self, data: &[u8]) -> Option<u64> {
        lengths(data).map(|(_, padded)| (HEADER_LEN + padded) as u64)
    }

    fn extract(&self, data: &[u8], budget: &mut Budget) -> Result<Extracted, Rejection> {
        let (plain_len, padded) = lengths(data).ok_or(Rejection::NotThisFormat)?;
        let end = HEADER_LEN + padded;
        let Some(ciphertext) = data.get(HEADER_LEN..end) else {
            return Err(Rejection::Corrupt(format!(
                "D-Link SHRS image is truncated: header says {end} bytes, only {} present",
                data.len()
            )));
        };
        // The ciphertext digest tells a real header from the four letters
        // in a string table.
        if Sha512::digest(ciphertext)[..] != data[0x9c..0xdc] {
            return Err(Rejection::NotThisFormat);
        }
        let mut out = Extracted {
            size: end as u64,
            ..Default::default()
        };
        if let Err(bound) = budget
            .entry()
            .and_then(|()| budget.charge_file(padded as u64))
        {
            out.detail = Some(detail("not decrypted"));
            out.notes.push(Problem::Limit(format!(
                "D-Link SHRS: {bound} reached; not decrypted"
            )));
            return Ok(out);
        }
        let mut iv = [0u8; 16];
        iv.copy_from_slice(&data[0xc..0x1c]);
        let mut plain = cbc_decrypt_128(&KEY, iv, ciphertext);
        plain.truncate(plain_len);
        let mut keyed = Sha512::new();
        keyed.update(&plain);
        keyed.update(KEY);
        if Sha512::digest(&plain)[..] != data[0x5c..0x9c]
            || keyed.finalize()[..] != data[0x1c..0x5c]
        {
            out.detail = Some(detail("not decrypted: the public key does not open it"));
            out.notes.push(Problem::Error(
                "D-Link SHRS: the plaintext digest does not match with the published key (a newer key generation?); left encrypted"
                    .into(),
            ));
            return Ok(out);
        }
        out.detail = Some(detail("decrypted, SHA-512 digests checked"));
        out.entries.push(Entry {
            path: "decrypted.bin".into(),
            kind: EntryKind::File,
            data: plain,
            meta: None,
        });
        Ok(out)
    }
}

fn detail(state: &str) -> String {
    format!("D-Link SHRS, AES-128-CBC, {state}")
}

/// Plaintext length and padded (ciphertext) length, when they agree.
fn lengths(data: &[u8]) -> Option<(usize, usize)> {
    if !data.starts_with(b"SHRS") || data.len() < HEADER_LEN {
        return None;
    }
    let plain = be32(data, 4)? as usize;
    let padded = be32(data, 8)? as usize;
    (plain > 0 && padded.is_multiple_of(16) && padded >= plain && padded - plain < 16)
        .then_some((plain, padded))
}

/// AES-128-CBC decryption without padding removal (`ciphertext` is whole blocks).
pub(crate) fn cbc_decrypt_128(key: &[u8; 16], iv: [u8; 16], ciphertext: &[u8]) -> Vec<u8> {
    let cipher = Aes128::new(GenericArray::from_slice(key));
    let mut out = Vec::with_capacity(ciphertext.len());
    let mut prev = iv;
    for chunk in ciphertext.chunks_exact(16) {
        let mut block = GenericArray::clone_from_slice(chunk);
        cipher.decrypt_block(&mut block);
        out.extend(block.iter().zip(prev).map(|(b, p)| b ^ p));
        prev.copy_from_slice(chunk);
    }
    out
}

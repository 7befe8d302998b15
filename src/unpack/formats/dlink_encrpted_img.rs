//! D-Link `encrpted_img` firmware (DIR-8xx/COVR series): a 16-byte header
//! (`encrpted_img`, big-endian payload length), then a UBI image encrypted
//! with AES-256-CBC under a key and IV shared by every image (published by
//! unblob and binwalk). Each 128 KiB eraseblock is encrypted on its own with
//! the fixed IV; images chained across eraseblocks are also read, their
//! eraseblocks' first 16 bytes being the UBI erase counter header that
//! unblob restores. The layer is of kind `encrypted`; the plaintext becomes
//! `decrypted.ubi`, which the UBI reader then opens.

use super::{Entry, Extracted, Format, Problem, Rejection, be32};
use crate::unpack::limits::Budget;
use crate::unpack::tree::EntryKind;
use aes::Aes256;
use aes::cipher::{BlockDecrypt, KeyInit, generic_array::GenericArray};

pub struct DlinkEncrptedImg;

const MAGIC: &[u8] = b"encrpted_img";
const HEADER_LEN: usize = 16;
const PEB: usize = 0x20000;
const KEY: &[u8; 32] = b"he9-4+M!)d6=m~we1,q2a3d1n&2*Z^%8";
const IV: &[u8; 16] = b"J%1iQl8$=lm-;8AE";
/// What a fresh UBI eraseblock starts with: `UBI#`, version 1, erase count 0.
const UBI_EC_HEAD: [u8; 16] = [b'U', b'B', b'I', b'#', 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];

impl Format for DlinkEncrptedImg {
    fn name(&self) -> &'static str {
        "encrypted"
    }

    fn magics(&self) -> &'static [&'static [u8]] {
        &[MAGIC]
    }

    fn declared_len(&self, data: &[u8]) -> Option<u64> {
        be32(data, 12).map(|n| HEADER_LEN as u64 + u64::from(n))
    }

    fn extract(&self, data: &[u8], budget: &mut Budget) -> Result<Extracted, Rejection> {
        let len = be32(data, 12).ok_or(Rejection::NotThisFormat)? as usize;
        if !data.starts_with(MAGIC) || len == 0 || !len.is_multiple_of(16) {
            return Err(Rejection::NotThisFormat);
        }
        let Some(ciphertext) = data.get(HEADER_LEN..HEADER_LEN + len) else {
            return Err(Rejection::Corrupt(format!(
                "D-Link encrpted_img is truncated: header says {} bytes, only {} present",
                HEADER_LEN + len,
                data.len()
            )));
        };
        let mut out = Extracted {
            size: (HEADER_LEN + len) as u64,
            ..Default::default()
        };
        if let Err(bound) = budget.entry().and_then(|()| budget.charge_file(len as u64)) {
            out.detail = Some("D-Link encrpted_img, AES-256-CBC, not decrypted".into());
            out.notes.push(Problem::Limit(format!(
                "D-Link encrpted_img: {bound} reached; not decrypted"
            )));
            return Ok(out);
        }
        let cipher = Aes256::new(GenericArray::from_slice(KEY));
        let mut plain = decrypt(&cipher, ciphertext, true);
        // The first eraseblock starts the chain with the IV in either mode:
        // no UBI header there means the published key is not this image's.
        if !plain.starts_with(b"UBI#") {
            out.detail = Some("D-Link encrpted_img, AES-256-CBC, not decrypted".into());
            out.notes.push(Problem::Error(
                "D-Link encrpted_img: the published key does not yield a UBI image (a newer key?); left encrypted"
                    .into(),
            ));
            return Ok(out);
        }
        let mode = if plain.chunks(PEB).all(|peb| peb.starts_with(b"UBI#")) {
            "each eraseblock on its own"
        } else {
            // One chain over the whole image: every block but each
            // eraseblock's first decrypts right; that one is the EC header.
            plain = decrypt(&cipher, ciphertext, false);
            for peb in plain.chunks_mut(PEB).skip(1) {
                let n = peb.len().min(16);
                peb[..n].copy_from_slice(&UBI_EC_HEAD[..n]);
            }
            "one chain"
        };
        out.detail = Some(format!(
            "D-Link encrpted_img, AES-256-CBC ({mode}), decrypted"
        ));
        out.entries.push(Entry {
            path: "decrypted.ubi".into(),
            kind: EntryKind::File,
            data: plain,
            meta: None,
        });
        Ok(out)
    }
}

/// CBC decryption with the fixed IV, restarted at each eraseblock when `per_peb`.
fn decrypt(cipher: &Aes256, ciphertext: &[u8], per_peb: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(ciphertext.len());
    let mut prev = *IV;
    for (i, chunk) in ciphertext.chunks_exact(16).enumerate() {
        if per_peb && (i * 16) % PEB == 0 {
            prev = *IV;
        }
        let mut block = GenericArray::clone_from_slice(chunk);
        cipher.decrypt_block(&mut block);
        out.extend(block.iter().zip(prev).map(|(b, p)| b ^ p));
        prev.copy_from_slice(chunk);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::unpack::limits::Limits;
    use aes::cipher::BlockEncrypt;

    /// CBC encryption, as the vendor's tool would do it: one chain over the
    /// whole image, or restarted at each eraseblock.
    fn encrypt(plain: &[u8], per_peb: bool) -> Vec<u8> {
        let cipher = Aes256::new(GenericArray::from_slice(KEY));
        let mut prev = *IV;
        let mut out = Vec::new();
        for (i, chunk) in plain.chunks_exact(16).enumerate() {
            if per_peb && (i * 16) % PEB == 0 {
                prev = *IV;
            }
            let mut block = GenericArray::clone_from_slice(chunk);
            for (b, p) in block.iter_mut().zip(prev) {
                *b ^= p;
            }
            cipher.encrypt_block(&mut block);
            prev.copy_from_slice(&block);
            out.extend_from_slice(&block);
        }
        out
    }

    fn image(ciphertext: &[u8]) -> Vec<u8> {
        let mut v = MAGIC.to_vec();
        v.extend_from_slice(&(ciphertext.len() as u32).to_be_bytes());
        v.extend_from_slice(ciphertext);
        v
    }

    #[test]
    fn both_chaining_modes_give_the_plaintext() {
        let mut plain = Vec::new();
        for i in 0..3u8 {
            plain.extend_from_slice(&UBI_EC_HEAD);
            plain.extend((16..PEB).map(|j| (j as u8) ^ i));
        }
        for (per_peb, mode) in [(true, "each eraseblock on its own"), (false, "one chain")] {
            let out = DlinkEncrptedImg
                .extract(
                    &image(&encrypt(&plain, per_peb)),
                    &mut Budget::new(Limits::default()),
                )
                .unwrap();
            assert!(out.notes.is_empty(), "{:?}", out.notes);
            assert!(out.detail.as_deref().unwrap().contains(mode));
            assert_eq!(out.entries[0].data, plain, "{mode}");
        }
    }

    #[test]
    fn another_key_is_a_note_and_a_closed_layer() {
        let mut ciphertext = encrypt(&[0x55; 64], true);
        ciphertext[0] ^= 1;
        let out = DlinkEncrptedImg
            .extract(&image(&ciphertext), &mut Budget::new(Limits::default()))
            .unwrap();
        assert!(out.entries.is_empty());
        assert_eq!(
            out.detail.as_deref(),
            Some("D-Link encrpted_img, AES-256-CBC, not decrypted")
        );
        assert_eq!(out.notes.len(), 1);
        // Cut short: an error naming both sizes.
        let whole = image(&encrypt(&[0u8; 64], true));
        let err = DlinkEncrptedImg
            .extract(&whole[..40], &mut Budget::new(Limits::default()))
            .unwrap_err();
        assert_eq!(
            err,
            Rejection::Corrupt(
                "D-Link encrpted_img is truncated: header says 80 bytes, only 40 present".into()
            )
        );
    }
}

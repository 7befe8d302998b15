//! Keys and certificates anywhere in the tree, parsed rather than grepped:
//! PEM blocks (also inside executables), whole DER files, DER certificates
//! and RSA/PKCS#8 private keys embedded in binaries, OpenSSH and PuTTY key
//! files, dropbear host keys, unencrypted PKCS#12 bags and OpenSSH public
//! keys. Every asset gets its facts (algorithm, size, SHA-256 fingerprint of
//! its SubjectPublicKeyInfo, for certificates subject, issuer and validity)
//! and goes into the inventory (CycloneDX's CBOM); shipped private keys,
//! weak keys and bad certificates are findings. A public key or certificate
//! alone is inventory, not a finding.

use super::rules;
use crate::model::{Evidence, Finding, Severity};
use crate::unpack::tree::{Meta, VirtualFile};
use base64::Engine;
use der::asn1::{AnyRef, BitStringRef, ObjectIdentifier};
use der::{Decode, Encode};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use spki::{AlgorithmIdentifierRef, SubjectPublicKeyInfoRef};

/// One key or certificate found in the target.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct CryptoAsset {
    /// `private-key`, `public-key` or `certificate`.
    pub asset: String,
    /// Provenance path of the file holding it.
    pub path: String,
    /// Byte offset of the asset in that file.
    pub offset: u64,
    /// `pem`, `der`, `openssh`, `putty`, `dropbear`, `pkcs12`, `ssh-public`.
    pub format: String,
    /// `rsa`, `ec`, `ed25519`, `dsa`, ... (the key's algorithm).
    pub algorithm: String,
    /// Key size in bits (RSA/DSA modulus, curve size).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bits: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub curve: Option<String>,
    /// `sha256:` + hex of the DER SubjectPublicKeyInfo: the same key has the
    /// same fingerprint whatever file format holds it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
    /// OpenSSH's own fingerprint (`SHA256:...`, as `ssh-keygen -l` prints).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssh_fingerprint: Option<String>,
    /// A private key protected by a passphrase.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub encrypted: bool,
    /// SHA-256 of an encrypted key's DER (its only identity: no public half).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub der_sha256: Option<String>,
    /// Found inside an executable or library (compiled-in data).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub in_program: bool,
    /// A key or certificate published as test data (`known_keys.toml`):
    /// inventory inside a library, a finding where the device would use it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub known_as: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate: Option<Certificate>,
    /// Permission bits of the file (`0600`), when the container stores them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
}

/// Certificate facts.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Certificate {
    pub subject: String,
    pub issuer: String,
    pub serial: String,
    /// RFC 3339 UTC.
    pub not_before: String,
    pub not_after: String,
    pub self_signed: bool,
    pub ca: bool,
    /// `sha256WithRSAEncryption`, `ecdsa-with-SHA256`, ... or the OID.
    pub signature_algorithm: String,
    /// SHA-256 of the whole certificate (DER), hex.
    pub sha256: String,
}

impl CryptoAsset {
    pub fn is_private(&self) -> bool {
        self.asset == "private-key"
    }
}

// ------------------------------------------------------------------ finding assets

#[derive(Deserialize)]
struct KnownFile {
    known: Vec<Known>,
}

#[derive(Deserialize)]
struct Known {
    id: String,
    name: String,
}

fn known(a: &CryptoAsset) -> Option<String> {
    static LIST: std::sync::OnceLock<Vec<Known>> = std::sync::OnceLock::new();
    let list = LIST.get_or_init(|| {
        toml::from_str::<KnownFile>(include_str!("known_keys.toml"))
            .map(|f| f.known)
            .unwrap_or_default()
    });
    let ids = [
        a.certificate.as_ref().map(|c| format!("cert:{}", c.sha256)),
        a.der_sha256.as_ref().map(|d| format!("der:{d}")),
        a.fingerprint.clone().filter(|_| a.certificate.is_none()),
    ];
    ids.into_iter()
        .flatten()
        .find_map(|id| list.iter().find(|k| k.id == id).map(|k| k.name.clone()))
}

/// Every key and certificate in the tree, in file order. Only the bytes
/// no container claimed are read (`VirtualFile::scan`), so a key inside an
/// uncompressed file system is found once, in its file.
pub fn inventory(files: &[VirtualFile]) -> Vec<CryptoAsset> {
    files
        .par_iter()
        .filter(|f| f.is_regular() && !f.data.is_empty())
        .flat_map_iter(|f| {
            let whole = f.scan.len() == 1 && f.scan[0] == (0..f.data.len());
            let mut found = if whole {
                in_file(&f.path, &f.data)
            } else {
                f.scan
                    .iter()
                    .filter_map(|r| f.data.get(r.clone()).map(|d| (r.start, d)))
                    .flat_map(|(start, d)| {
                        let mut part = in_file(&f.path, d);
                        for a in &mut part {
                            a.offset += start as u64;
                        }
                        part
                    })
                    .collect()
            };
            for a in &mut found {
                a.mode = f.meta.map(|m| format!("{:04o}", m.mode));
                a.known_as = known(a);
                a.in_program =
                    crate::unpack::tree::classify(&f.data) == crate::unpack::tree::FileClass::Elf;
            }
            found
        })
        .collect()
}

/// The assets in one file's bytes.
pub fn in_file(path: &str, data: &[u8]) -> Vec<CryptoAsset> {
    let mut out = Vec::new();
    let mut pem_ranges = Vec::new();
    for at in memchr::memmem::find_iter(data, b"-----BEGIN ") {
        if let Some((end, assets)) = pem_block(path, data, at) {
            pem_ranges.push(at..end);
            out.extend(assets);
        }
    }
    if let Some(a) = putty(path, data) {
        out.push(a);
    }
    if let Some(a) = dropbear(path, data) {
        out.push(a);
    }
    if let Some(head) = data.get(..2)
        && head[0] == 0x30
        && (head[1] == 0x82 || head[1] == 0x81)
    {
        let whole = der_whole(path, data);
        if !whole.is_empty() {
            out.extend(whole);
            return out;
        }
    }
    out.extend(embedded_der(path, data, &pem_ranges));
    out.extend(ssh_public_lines(path, data));
    out
}

/// One `-----BEGIN X-----` block at `at`: where it ends and what it holds.
fn pem_block(path: &str, data: &[u8], at: usize) -> Option<(usize, Vec<CryptoAsset>)> {
    let rest = &data[at + 11..];
    let label_end = memchr::memmem::find(&rest[..rest.len().min(64)], b"-----")?;
    let label = std::str::from_utf8(&rest[..label_end]).ok()?;
    let body_start = at + 11 + label_end + 5;
    let end_marker = format!("-----END {label}-----");
    let window = &data[body_start..data.len().min(body_start + (1 << 20))];
    let end_rel = memchr::memmem::find(window, end_marker.as_bytes())?;
    let body = std::str::from_utf8(&window[..end_rel]).ok()?;
    let end = body_start + end_rel + end_marker.len();
    let offset = at as u64;
    let asset = |asset: &str, format: &str, algorithm: &str| CryptoAsset {
        asset: asset.into(),
        path: path.into(),
        offset,
        format: format.into(),
        algorithm: algorithm.into(),
        ..CryptoAsset::default()
    };
    // RFC 1421 headers (`Proc-Type: 4,ENCRYPTED`) come before a blank line.
    let (headers, b64) = match body.find("\n\n").or_else(|| body.find("\r\n\r\n")) {
        Some(cut) if body[..cut].contains(':') => (&body[..cut], &body[cut..]),
        _ => ("", body),
    };
    let encrypted_legacy = headers.contains("ENCRYPTED");
    let clean: String = b64.chars().filter(|c| !c.is_whitespace()).collect();
    if label == "OPENSSH PRIVATE KEY" {
        let text = std::str::from_utf8(&data[at..end]).ok()?;
        return Some((
            end,
            openssh_private(path, offset, text).into_iter().collect(),
        ));
    }
    let der = base64::engine::general_purpose::STANDARD
        .decode(clean.as_bytes())
        .ok()?;
    let found: Vec<CryptoAsset> = match label {
        "CERTIFICATE" | "X509 CERTIFICATE" | "TRUSTED CERTIFICATE" => {
            certificate(path, offset, "pem", &der).into_iter().collect()
        }
        "PRIVATE KEY" => pkcs8(&der)
            .map(|k| k.into_asset(path, offset, "pem"))
            .into_iter()
            .collect(),
        "ENCRYPTED PRIVATE KEY" => {
            pkcs8::EncryptedPrivateKeyInfo::try_from(der.as_slice()).ok()?;
            vec![CryptoAsset {
                encrypted: true,
                ..asset("private-key", "pem", "unknown")
            }]
        }
        "RSA PRIVATE KEY" if encrypted_legacy => vec![CryptoAsset {
            encrypted: true,
            ..asset("private-key", "pem", "rsa")
        }],
        "EC PRIVATE KEY" | "DSA PRIVATE KEY" if encrypted_legacy => vec![CryptoAsset {
            encrypted: true,
            ..asset(
                "private-key",
                "pem",
                if label.starts_with("EC") { "ec" } else { "dsa" },
            )
        }],
        "RSA PRIVATE KEY" => rsa_private(&der)
            .map(|k| k.into_asset(path, offset, "pem"))
            .into_iter()
            .collect(),
        "EC PRIVATE KEY" => ec_private(&der, None)
            .map(|k| k.into_asset(path, offset, "pem"))
            .into_iter()
            .collect(),
        "DSA PRIVATE KEY" => dsa_private(&der)
            .map(|k| k.into_asset(path, offset, "pem"))
            .into_iter()
            .collect(),
        "PUBLIC KEY" => spki_facts(&der)
            .map(|k| k.into_asset_kind("public-key", path, offset, "pem"))
            .into_iter()
            .collect(),
        "RSA PUBLIC KEY" => pkcs1::RsaPublicKey::from_der(&der)
            .ok()
            .and_then(|k| rsa_facts(k.modulus.as_bytes(), k.public_exponent.as_bytes()))
            .map(|k| k.into_asset_kind("public-key", path, offset, "pem"))
            .into_iter()
            .collect(),
        _ => return None,
    };
    let digest = hex::encode(Sha256::digest(&der));
    let found = found
        .into_iter()
        .map(|mut a| {
            if a.encrypted || (a.fingerprint.is_none() && a.certificate.is_none()) {
                a.der_sha256 = Some(digest.clone());
            }
            a
        })
        .collect();
    Some((end, found))
}

/// Facts about one key, before they become an asset.
struct KeyFacts {
    algorithm: &'static str,
    bits: Option<u32>,
    curve: Option<String>,
    spki: Option<Vec<u8>>,
}

impl KeyFacts {
    fn into_asset(self, path: &str, offset: u64, format: &str) -> CryptoAsset {
        self.into_asset_kind("private-key", path, offset, format)
    }

    fn into_asset_kind(self, asset: &str, path: &str, offset: u64, format: &str) -> CryptoAsset {
        CryptoAsset {
            asset: asset.into(),
            path: path.into(),
            offset,
            format: format.into(),
            algorithm: self.algorithm.into(),
            bits: self.bits,
            curve: self.curve,
            fingerprint: self.spki.as_deref().map(fingerprint),
            ..CryptoAsset::default()
        }
    }
}

fn fingerprint(spki_der: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(spki_der)))
}

const RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const RSA_PSS: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.10");
const EC: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");
const ED448: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.113");
const X25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.110");
const DSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10040.4.1");

/// The DER SubjectPublicKeyInfo of `algorithm` (with `params`) and `key`.
fn spki_der(algorithm: ObjectIdentifier, params: Option<AnyRef>, key: &[u8]) -> Option<Vec<u8>> {
    SubjectPublicKeyInfoRef {
        algorithm: AlgorithmIdentifierRef {
            oid: algorithm,
            parameters: params,
        },
        subject_public_key: BitStringRef::from_bytes(key).ok()?,
    }
    .to_der()
    .ok()
}

/// RSA facts from the modulus and exponent (big-endian, unsigned).
fn rsa_facts(modulus: &[u8], exponent: &[u8]) -> Option<KeyFacts> {
    let n = der::asn1::UintRef::new(modulus).ok()?;
    let e = der::asn1::UintRef::new(exponent).ok()?;
    let public = pkcs1::RsaPublicKey {
        modulus: n,
        public_exponent: e,
    }
    .to_der()
    .ok()?;
    Some(KeyFacts {
        algorithm: "rsa",
        bits: Some(bit_len(n.as_bytes())),
        curve: None,
        spki: spki_der(RSA, Some(AnyRef::NULL), &public),
    })
}

fn bit_len(be: &[u8]) -> u32 {
    let trimmed: &[u8] = match be.iter().position(|&b| b != 0) {
        Some(i) => &be[i..],
        None => return 0,
    };
    (trimmed.len() as u32 - 1) * 8 + (8 - trimmed[0].leading_zeros())
}

fn rsa_private(der: &[u8]) -> Option<KeyFacts> {
    let k = pkcs1::RsaPrivateKey::from_der(der).ok()?;
    rsa_facts(k.modulus.as_bytes(), k.public_exponent.as_bytes())
}

/// Names and sizes of the curves keys use; anything else is reported by OID.
fn curve(oid: &ObjectIdentifier) -> (String, Option<u32>) {
    let (name, bits) = match oid.to_string().as_str() {
        "1.2.840.10045.3.1.7" => ("P-256", 256),
        "1.3.132.0.34" => ("P-384", 384),
        "1.3.132.0.35" => ("P-521", 521),
        "1.3.132.0.10" => ("secp256k1", 256),
        "1.2.840.10045.3.1.1" => ("P-192", 192),
        "1.3.132.0.33" => ("P-224", 224),
        "1.3.36.3.3.2.8.1.1.7" => ("brainpoolP256r1", 256),
        "1.3.36.3.3.2.8.1.1.11" => ("brainpoolP384r1", 384),
        "1.3.36.3.3.2.8.1.1.13" => ("brainpoolP512r1", 512),
        "1.3.132.0.1" => ("sect163k1", 163),
        "1.3.132.0.15" => ("sect163r2", 163),
        "1.3.132.0.8" => ("secp160r1", 160),
        other => return (other.to_string(), None),
    };
    (name.to_string(), Some(bits))
}

fn ec_private(der: &[u8], params: Option<ObjectIdentifier>) -> Option<KeyFacts> {
    let k = sec1::EcPrivateKey::from_der(der).ok()?;
    let oid = k.parameters.and_then(|p| p.named_curve()).or(params)?;
    let (name, bits) = curve(&oid);
    let params = AnyRef::from(&oid);
    Some(KeyFacts {
        algorithm: "ec",
        bits,
        curve: Some(name),
        spki: k.public_key.and_then(|p| spki_der(EC, Some(params), p)),
    })
}

/// `SEQUENCE { version, p, q, g, y, x }` (OpenSSL's traditional DSA key).
fn dsa_private(der: &[u8]) -> Option<KeyFacts> {
    let (_, obj) = x509_parser::der_parser::parse_der(der).ok()?;
    let items = obj.as_sequence().ok()?;
    if items.len() != 6 {
        return None;
    }
    let p = items[1].as_slice().ok()?;
    Some(KeyFacts {
        algorithm: "dsa",
        bits: Some(bit_len(p)),
        curve: None,
        spki: None,
    })
}

fn pkcs8(der: &[u8]) -> Option<KeyFacts> {
    let info = pkcs8::PrivateKeyInfo::try_from(der).ok()?;
    let oid = info.algorithm.oid;
    if oid == RSA || oid == RSA_PSS {
        rsa_private(info.private_key)
    } else if oid == EC {
        let named = info.algorithm.parameters_oid().ok();
        let mut facts = ec_private(info.private_key, named)?;
        if facts.spki.is_none()
            && let (Some(public), Some(named)) = (info.public_key, named)
        {
            facts.spki = spki_der(EC, Some(AnyRef::from(&named)), public);
        }
        Some(facts)
    } else if oid == ED25519 {
        // CurvePrivateKey ::= OCTET STRING (the 32-byte seed).
        let seed = der::asn1::OctetStringRef::from_der(info.private_key).ok()?;
        let seed: [u8; 32] = seed.as_bytes().try_into().ok()?;
        let public = ed25519_dalek::SigningKey::from_bytes(&seed).verifying_key();
        Some(KeyFacts {
            algorithm: "ed25519",
            bits: Some(256),
            curve: Some("Ed25519".into()),
            spki: spki_der(ED25519, None, public.as_bytes()),
        })
    } else if oid == ED448 || oid == X25519 {
        Some(KeyFacts {
            algorithm: if oid == ED448 { "ed448" } else { "x25519" },
            bits: Some(if oid == ED448 { 448 } else { 256 }),
            curve: None,
            spki: None,
        })
    } else if oid == DSA {
        let params = info.algorithm.parameters?;
        let (_, obj) = x509_parser::der_parser::parse_der(params.value()).ok()?;
        let p = obj
            .as_sequence()
            .ok()
            .and_then(|s| s.first().and_then(|p| p.as_slice().ok()));
        Some(KeyFacts {
            algorithm: "dsa",
            bits: p.map(bit_len),
            curve: None,
            spki: None,
        })
    } else {
        Some(KeyFacts {
            algorithm: "unknown",
            bits: None,
            curve: Some(oid.to_string()),
            spki: None,
        })
    }
}

/// Facts of a DER SubjectPublicKeyInfo.
fn spki_facts(der: &[u8]) -> Option<KeyFacts> {
    let info = SubjectPublicKeyInfoRef::from_der(der).ok()?;
    let oid = info.algorithm.oid;
    let key = info.subject_public_key.raw_bytes();
    let mut facts = if oid == RSA {
        let k = pkcs1::RsaPublicKey::from_der(key).ok()?;
        rsa_facts(k.modulus.as_bytes(), k.public_exponent.as_bytes())?
    } else if oid == EC {
        let named = info.algorithm.parameters_oid().ok()?;
        let (name, bits) = curve(&named);
        KeyFacts {
            algorithm: "ec",
            bits,
            curve: Some(name),
            spki: None,
        }
    } else if oid == ED25519 {
        KeyFacts {
            algorithm: "ed25519",
            bits: Some(256),
            curve: Some("Ed25519".into()),
            spki: None,
        }
    } else {
        KeyFacts {
            algorithm: if oid == DSA { "dsa" } else { "unknown" },
            bits: None,
            curve: None,
            spki: None,
        }
    };
    facts.spki = Some(der.to_vec());
    Some(facts)
}

/// A certificate's facts; its key's fingerprint is that of its SPKI.
fn certificate(path: &str, offset: u64, format: &str, der: &[u8]) -> Option<CryptoAsset> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let spki_raw = cert.tbs_certificate.subject_pki.raw;
    let facts = spki_facts(spki_raw);
    let validity = cert.validity();
    let stamp = |t: i64| crate::date::utc_stamp(t).unwrap_or_default();
    let subject = cert.subject().to_string();
    let issuer = cert.issuer().to_string();
    let self_signed = cert.subject().as_raw() == cert.issuer().as_raw();
    let sig_oid = cert.signature_algorithm.algorithm.to_id_string();
    Some(CryptoAsset {
        asset: "certificate".into(),
        path: path.into(),
        offset,
        format: format.into(),
        algorithm: facts.as_ref().map_or("unknown", |f| f.algorithm).into(),
        bits: facts.as_ref().and_then(|f| f.bits),
        curve: facts.as_ref().and_then(|f| f.curve.clone()),
        fingerprint: Some(fingerprint(spki_raw)),
        certificate: Some(Certificate {
            subject,
            issuer,
            serial: cert.raw_serial_as_string(),
            not_before: stamp(validity.not_before.timestamp()),
            not_after: stamp(validity.not_after.timestamp()),
            self_signed,
            ca: cert.is_ca(),
            signature_algorithm: signature_name(&sig_oid),
            sha256: hex::encode(Sha256::digest(der)),
        }),
        ..CryptoAsset::default()
    })
}

fn signature_name(oid: &str) -> String {
    match oid {
        "1.2.840.113549.1.1.2" => "md2WithRSAEncryption",
        "1.2.840.113549.1.1.4" => "md5WithRSAEncryption",
        "1.2.840.113549.1.1.5" => "sha1WithRSAEncryption",
        "1.2.840.113549.1.1.11" => "sha256WithRSAEncryption",
        "1.2.840.113549.1.1.12" => "sha384WithRSAEncryption",
        "1.2.840.113549.1.1.13" => "sha512WithRSAEncryption",
        "1.2.840.113549.1.1.10" => "rsassaPss",
        "1.2.840.10045.4.1" => "ecdsa-with-SHA1",
        "1.2.840.10045.4.3.2" => "ecdsa-with-SHA256",
        "1.2.840.10045.4.3.3" => "ecdsa-with-SHA384",
        "1.2.840.10045.4.3.4" => "ecdsa-with-SHA512",
        "1.2.840.10040.4.3" => "dsa-with-sha1",
        "1.3.101.112" => "Ed25519",
        other => other,
    }
    .to_string()
}

fn weak_signature(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    n.starts_with("md2") || n.starts_with("md5") || n.contains("sha1")
}

/// A file that is one DER structure: certificate, PKCS#8, PKCS#1, SEC1,
/// SubjectPublicKeyInfo or PKCS#12.
fn der_whole(path: &str, data: &[u8]) -> Vec<CryptoAsset> {
    if let Some(c) = certificate(path, 0, "der", data) {
        return vec![c];
    }
    if let Some(k) = pkcs8(data) {
        return vec![k.into_asset(path, 0, "der")];
    }
    if pkcs8::EncryptedPrivateKeyInfo::try_from(data).is_ok() {
        return vec![CryptoAsset {
            asset: "private-key".into(),
            path: path.into(),
            format: "der".into(),
            algorithm: "unknown".into(),
            encrypted: true,
            ..CryptoAsset::default()
        }];
    }
    if let Some(k) = rsa_private(data) {
        return vec![k.into_asset(path, 0, "der")];
    }
    if let Some(k) = ec_private(data, None) {
        return vec![k.into_asset(path, 0, "der")];
    }
    if let Some(k) = spki_facts(data) {
        return vec![k.into_asset_kind("public-key", path, 0, "der")];
    }
    pkcs12(path, data)
}

/// DER certificates and private keys inside a larger file (a key compiled
/// into a program): anchored on their fixed leading bytes, then parsed.
fn embedded_der(path: &str, data: &[u8], skip: &[std::ops::Range<usize>]) -> Vec<CryptoAsset> {
    let mut out = Vec::new();
    let outside = |at: usize| !skip.iter().any(|r| r.contains(&at));
    // Certificate: SEQUENCE(long) { SEQUENCE(long) { [0] { INTEGER 2 } ...
    for hit in memchr::memmem::find_iter(data, b"\xa0\x03\x02\x01\x02") {
        let Some(at) = hit.checked_sub(8) else {
            continue;
        };
        if data[at] == 0x30
            && data[at + 1] == 0x82
            && data[at + 4] == 0x30
            && data[at + 5] == 0x82
            && outside(at)
        {
            let len = usize::from(u16::from_be_bytes([data[at + 2], data[at + 3]])) + 4;
            if let Some(der) = data.get(at..at + len)
                && let Some(c) = certificate(path, at as u64, "der", der)
            {
                out.push(c);
            }
        }
    }
    // RSAPrivateKey / PrivateKeyInfo: SEQUENCE(long) { INTEGER 0, INTEGER(long) | SEQUENCE ...
    for hit in memchr::memmem::find_iter(data, b"\x02\x01\x00") {
        let Some(at) = hit.checked_sub(4) else {
            continue;
        };
        if data[at] != 0x30 || data[at + 1] != 0x82 || !outside(at) {
            continue;
        }
        let len = usize::from(u16::from_be_bytes([data[at + 2], data[at + 3]])) + 4;
        let Some(der) = data.get(at..at + len) else {
            continue;
        };
        let next = data.get(hit + 3).copied();
        let facts = match next {
            Some(0x02) => rsa_private(der),
            Some(0x30) => pkcs8(der).filter(|k| k.algorithm != "unknown"),
            _ => None,
        };
        if let Some(k) = facts {
            out.push(k.into_asset(path, at as u64, "der"));
        }
    }
    out
}

/// PKCS#12 (PFX): private keys in plain `keyBag`s, shrouded ones counted
/// as encrypted, certificates in plain `certBag`s. Encrypted content (the
/// usual home of certificates) is not opened.
fn pkcs12(path: &str, data: &[u8]) -> Vec<CryptoAsset> {
    use x509_parser::der_parser::{oid, parse_der};
    let mut out = Vec::new();
    let Ok((_, pfx)) = parse_der(data) else {
        return out;
    };
    let Ok(top) = pfx.as_sequence() else {
        return out;
    };
    if top.len() < 2 || top[0].as_u32().ok() != Some(3) {
        return out;
    }
    let data_oid = oid!(1.2.840.113549.1.7.1);
    // ContentInfo { contentType, [0] EXPLICIT content }
    let content = |ci: &x509_parser::der_parser::ber::BerObject| -> Option<Vec<u8>> {
        let parts = ci.as_sequence().ok()?;
        if parts.first()?.as_oid().ok()? != &data_oid {
            return None;
        }
        let explicit = parts.get(1)?;
        let inner = explicit.as_slice().ok()?;
        let (_, octets) = parse_der(inner).ok()?;
        octets.as_slice().ok().map(<[u8]>::to_vec)
    };
    let Some(auth_safe) = content(&top[1]) else {
        return out;
    };
    let Ok((_, safes)) = parse_der(&auth_safe) else {
        return out;
    };
    let Ok(safes) = safes.as_sequence() else {
        return out;
    };
    for ci in safes {
        let Some(bags) = content(ci) else { continue };
        let Ok((_, bags)) = parse_der(&bags) else {
            continue;
        };
        let Ok(bags) = bags.as_sequence() else {
            continue;
        };
        for bag in bags {
            let Ok(parts) = bag.as_sequence() else {
                continue;
            };
            let (Some(id), Some(value)) = (parts.first(), parts.get(1)) else {
                continue;
            };
            let Ok(id) = id.as_oid() else { continue };
            let Ok(value) = value.as_slice() else {
                continue;
            };
            match id.to_id_string().as_str() {
                "1.2.840.113549.1.12.10.1.1" => {
                    if let Some(k) = pkcs8(value) {
                        out.push(k.into_asset(path, 0, "pkcs12"));
                    }
                }
                "1.2.840.113549.1.12.10.1.2" => out.push(CryptoAsset {
                    asset: "private-key".into(),
                    path: path.into(),
                    format: "pkcs12".into(),
                    algorithm: "unknown".into(),
                    encrypted: true,
                    ..CryptoAsset::default()
                }),
                "1.2.840.113549.1.12.10.1.3" => {
                    // CertBag { certId, [0] EXPLICIT OCTET STRING }
                    let cert = parse_der(value)
                        .ok()
                        .and_then(|(_, v)| v.as_sequence().ok().map(|s| s.to_vec()))
                        .and_then(|s| s.get(1).and_then(|x| x.as_slice().ok().map(<[u8]>::to_vec)))
                        .and_then(|inner| {
                            parse_der(&inner)
                                .ok()
                                .and_then(|(_, o)| o.as_slice().ok().map(<[u8]>::to_vec))
                        });
                    if let Some(der) = cert
                        && let Some(c) = certificate(path, 0, "pkcs12", &der)
                    {
                        out.push(c);
                    }
                }
                _ => {}
            }
        }
    }
    out
}

/// An `OPENSSH PRIVATE KEY` block: its public half is stored in clear, so
/// even an encrypted key has a fingerprint.
fn openssh_private(path: &str, offset: u64, text: &str) -> Option<CryptoAsset> {
    let key = ssh_key::PrivateKey::from_openssh(text).ok()?;
    let mut asset = ssh_asset(path, offset, "openssh", key.public_key());
    asset.asset = "private-key".into();
    asset.encrypted = key.is_encrypted();
    Some(asset)
}

/// Facts of an SSH public key, with the SPKI form of the same key.
fn ssh_asset(path: &str, offset: u64, format: &str, key: &ssh_key::PublicKey) -> CryptoAsset {
    use ssh_key::public::{EcdsaPublicKey, KeyData};
    let facts = match key.key_data() {
        KeyData::Rsa(k) => rsa_facts(
            k.n.as_positive_bytes().unwrap_or_default(),
            k.e.as_positive_bytes().unwrap_or_default(),
        ),
        KeyData::Ed25519(k) => Some(KeyFacts {
            algorithm: "ed25519",
            bits: Some(256),
            curve: Some("Ed25519".into()),
            spki: spki_der(ED25519, None, &k.0),
        }),
        KeyData::Ecdsa(k) => {
            let oid = match k {
                EcdsaPublicKey::NistP256(_) => "1.2.840.10045.3.1.7",
                EcdsaPublicKey::NistP384(_) => "1.3.132.0.34",
                EcdsaPublicKey::NistP521(_) => "1.3.132.0.35",
            };
            let oid = ObjectIdentifier::new_unwrap(oid);
            let (name, bits) = curve(&oid);
            Some(KeyFacts {
                algorithm: "ec",
                bits,
                curve: Some(name),
                spki: spki_der(EC, Some(AnyRef::from(&oid)), k.as_ref()),
            })
        }
        KeyData::Dsa(k) => Some(KeyFacts {
            algorithm: "dsa",
            bits: Some(bit_len(k.p.as_positive_bytes().unwrap_or_default())),
            curve: None,
            spki: None,
        }),
        _ => None,
    };
    let mut asset = match facts {
        Some(f) => f.into_asset_kind("public-key", path, offset, format),
        None => CryptoAsset {
            asset: "public-key".into(),
            path: path.into(),
            offset,
            format: format.into(),
            algorithm: key.algorithm().as_str().to_string(),
            ..CryptoAsset::default()
        },
    };
    asset.ssh_fingerprint = Some(key.fingerprint(ssh_key::HashAlg::Sha256).to_string());
    asset
}

/// A PuTTY `.ppk` file (v2 or v3): the public blob is in clear.
fn putty(path: &str, data: &[u8]) -> Option<CryptoAsset> {
    if !data.starts_with(b"PuTTY-User-Key-File-") {
        return None;
    }
    let text = std::str::from_utf8(data).ok()?;
    let mut lines = text.lines();
    let mut encrypted = true;
    let mut public: Option<Vec<u8>> = None;
    while let Some(line) = lines.next() {
        if let Some(v) = line.strip_prefix("Encryption: ") {
            encrypted = v.trim() != "none";
        } else if let Some(n) = line.strip_prefix("Public-Lines: ") {
            let n: usize = n.trim().parse().ok()?;
            let b64: String = lines.by_ref().take(n).collect();
            public = base64::engine::general_purpose::STANDARD.decode(b64).ok();
        }
    }
    let key = ssh_key::PublicKey::from_bytes(&public?).ok()?;
    let mut asset = ssh_asset(path, 0, "putty", &key);
    asset.asset = "private-key".into();
    asset.encrypted = encrypted;
    Some(asset)
}

/// A dropbear host key: the SSH wire-format public fields followed by the
/// private ones, nothing else in the file.
fn dropbear(path: &str, data: &[u8]) -> Option<CryptoAsset> {
    let mut fields = Vec::new();
    let mut at = 0;
    while at < data.len() {
        let len = u32::from_be_bytes(data.get(at..at + 4)?.try_into().ok()?) as usize;
        let end = at.checked_add(4)?.checked_add(len)?;
        data.get(at + 4..end)?;
        fields.push((at, end));
        at = end;
        if fields.len() > 8 {
            return None;
        }
    }
    let kind = data.get(fields.first()?.0 + 4..fields.first()?.1)?;
    let (public_fields, total) = match kind {
        b"ssh-rsa" => (3, 6),
        b"ssh-dss" => (5, 6),
        k if k.starts_with(b"ecdsa-sha2-nistp") => (3, 4),
        b"ssh-ed25519" => (0, 2),
        _ => return None,
    };
    if fields.len() != total {
        return None;
    }
    let key = if public_fields == 0 {
        // string "ssh-ed25519", string(seed[32] || public[32])
        let (s, e) = fields[1];
        let both = &data[s + 4..e];
        if both.len() != 64 {
            return None;
        }
        let mut blob = data[..fields[0].1].to_vec();
        blob.extend_from_slice(&32u32.to_be_bytes());
        blob.extend_from_slice(&both[32..]);
        ssh_key::PublicKey::from_bytes(&blob).ok()?
    } else {
        ssh_key::PublicKey::from_bytes(&data[..fields[public_fields - 1].1]).ok()?
    };
    let mut asset = ssh_asset(path, 0, "dropbear", &key);
    asset.asset = "private-key".into();
    Some(asset)
}

/// `ssh-ed25519 AAAA... comment` lines (authorized_keys, `*.pub`): inventory.
fn ssh_public_lines(path: &str, data: &[u8]) -> Vec<CryptoAsset> {
    let name = path.rsplit('/').next().unwrap_or(path);
    if !(name.ends_with(".pub") || name.starts_with("authorized_keys")) || data.len() > 1 << 20 {
        return Vec::new();
    }
    let Ok(text) = std::str::from_utf8(data) else {
        return Vec::new();
    };
    let mut offset = 0u64;
    let mut out = Vec::new();
    for line in text.split_inclusive('\n') {
        let t = line.trim();
        // authorized_keys lines may start with options; the key is the
        // first field that parses.
        let found = t
            .match_indices("ssh-")
            .chain(t.match_indices("ecdsa-"))
            .find_map(|(i, _)| ssh_key::PublicKey::from_openssh(&t[i..]).ok());
        if let Some(key) = found {
            out.push(ssh_asset(path, offset, "ssh-public", &key));
        }
        offset += line.len() as u64;
    }
    out
}

// ------------------------------------------------------------------ judging them

/// Where the key is used, for its severity: an SSH host key, a TLS server
/// key (stored with a certificate, or under a `private/` directory) or a
/// signing key is critical; another private key is high.
fn key_role(asset: &CryptoAsset, same_file_has_cert: bool) -> Option<&'static str> {
    let lower = asset.path.to_ascii_lowercase();
    let name = lower.rsplit('/').next().unwrap_or(&lower);
    if asset.format == "dropbear"
        || name.starts_with("ssh_host_")
        || name.contains("host_key")
        || name.contains("hostkey")
    {
        Some("an SSH host key")
    } else if same_file_has_cert || lower.contains("/private/") || name.contains("server") {
        Some("a TLS server key")
    } else if name.contains("sign") {
        Some("a signing key")
    } else {
        None
    }
}

/// Findings about the inventory, judged at `now` (RFC 3339 UTC).
pub fn findings(assets: &[CryptoAsset], now: &str) -> Vec<Finding> {
    let mut out = Vec::new();
    for a in assets {
        if let Some(name) = &a.known_as {
            if !a.in_program && a.is_private() {
                out.push(rules::finding(
                    "FW-KEY-001",
                    &a.path,
                    format!(
                        "{}: the publicly known {name}, installed as a key file: anyone can impersonate the device",
                        inner_path(&a.path)
                    ),
                    vec![Evidence {
                        method: format!("{}-{}", a.format, a.asset),
                        path: a.path.clone(),
                        offset: Some(a.offset),
                        evidence: describe(a),
                        ..Evidence::default()
                    }],
                ));
            }
            continue;
        }
        let evidence = vec![Evidence {
            method: format!("{}-{}", a.format, a.asset),
            path: a.path.clone(),
            offset: Some(a.offset),
            evidence: describe(a),
            ..Evidence::default()
        }];
        let inner = inner_path(&a.path);
        if a.is_private() {
            let with_cert = assets
                .iter()
                .any(|b| b.path == a.path && b.asset == "certificate");
            let role = key_role(a, with_cert);
            let (rule, what) = if a.encrypted {
                ("FW-KEY-002", "passphrase-protected private key")
            } else {
                ("FW-KEY-001", "unencrypted private key")
            };
            let mut f = rules::finding(
                rule,
                &a.path,
                format!(
                    "{inner}: {what} ({}){}{}",
                    describe(a),
                    role.map(|r| format!(", {r}")).unwrap_or_default(),
                    a.fingerprint
                        .as_ref()
                        .map(|fp| format!(", {fp}"))
                        .unwrap_or_default()
                ),
                evidence.clone(),
            );
            if role.is_some() && !a.encrypted {
                f.severity = Severity::Critical;
            }
            out.push(f);
            if !a.encrypted
                && let Some(mode) = &a.mode
                && u32::from_str_radix(mode, 8).is_ok_and(|m| Meta::new(m, 0, 0).world_readable())
            {
                out.push(rules::finding(
                    "FW-MODE-003",
                    &a.path,
                    format!("{inner}: private key readable by every user (mode {mode})"),
                    evidence.clone(),
                ));
            }
        }
        if let Some(weak) = weakness(a) {
            out.push(rules::finding(
                "FW-KEY-003",
                &a.path,
                format!("{inner}: {weak}"),
                evidence.clone(),
            ));
        }
        if let Some(c) = &a.certificate {
            if weak_signature(&c.signature_algorithm) && !c.self_signed {
                out.push(rules::finding(
                    "FW-CERT-001",
                    &a.path,
                    format!(
                        "{inner}: certificate for {} signed with {} by {}",
                        c.subject, c.signature_algorithm, c.issuer
                    ),
                    evidence.clone(),
                ));
            }
            let bundle = assets
                .iter()
                .filter(|b| b.path == a.path && b.certificate.is_some())
                .count()
                > 1;
            let trust_anchor = c.self_signed && c.ca;
            if c.not_after.as_str() < now && !bundle && !trust_anchor {
                out.push(rules::finding(
                    "FW-CERT-002",
                    &a.path,
                    format!(
                        "{inner}: certificate for {} expired on {}",
                        c.subject, c.not_after
                    ),
                    evidence.clone(),
                ));
            }
            if c.not_before.as_str() > now {
                out.push(rules::finding(
                    "FW-CERT-003",
                    &a.path,
                    format!(
                        "{inner}: certificate for {} is valid only from {}",
                        c.subject, c.not_before
                    ),
                    evidence.clone(),
                ));
            }
        }
    }
    // A CA bundle every certificate of which has expired.
    let mut bundles: Vec<&str> = assets
        .iter()
        .filter(|a| a.certificate.is_some())
        .map(|a| a.path.as_str())
        .collect();
    bundles.sort();
    bundles.dedup();
    for path in bundles {
        let certs: Vec<&Certificate> = assets
            .iter()
            .filter(|a| a.path == path)
            .filter_map(|a| a.certificate.as_ref())
            .collect();
        if certs.len() > 1 && certs.iter().all(|c| c.not_after.as_str() < now) {
            let last = certs
                .iter()
                .map(|c| c.not_after.as_str())
                .max()
                .unwrap_or("");
            out.push(rules::finding(
                "FW-CERT-004",
                path,
                format!(
                    "{}: all {} certificates of this CA bundle have expired (the last on {last})",
                    inner_path(path),
                    certs.len()
                ),
                Vec::new(),
            ));
        }
    }
    out
}

fn weakness(a: &CryptoAsset) -> Option<String> {
    match (a.algorithm.as_str(), a.bits) {
        ("rsa", Some(bits)) if bits < 2048 => Some(format!("RSA key of {bits} bits (< 2048)")),
        ("dsa", bits) => Some(format!(
            "DSA key{} (DSA is retired)",
            bits.map(|b| format!(" of {b} bits")).unwrap_or_default()
        )),
        ("ec", Some(bits)) if bits < 224 => Some(format!(
            "elliptic curve {} of {bits} bits (< 224)",
            a.curve.as_deref().unwrap_or("?")
        )),
        _ => None,
    }
}

/// One line: `RSA 2048 bits, PEM` and for a certificate its subject.
pub fn describe(a: &CryptoAsset) -> String {
    let mut s = a.algorithm.to_ascii_uppercase();
    if let Some(b) = a.bits {
        s.push_str(&format!(" {b} bits"));
    }
    if let Some(c) = &a.curve
        && a.algorithm == "ec"
    {
        s.push_str(&format!(" {c}"));
    }
    s.push_str(&format!(", {}", a.format));
    if let Some(c) = &a.certificate {
        s.push_str(&format!(", subject {}", c.subject));
    }
    s
}

/// The path inside the file system (`/etc/x`) of a provenance path.
pub fn inner_path(path: &str) -> &str {
    path.rsplit_once(':')
        .and_then(|(_, p)| p.find('/').map(|at| &p[at..]))
        .unwrap_or(path)
}

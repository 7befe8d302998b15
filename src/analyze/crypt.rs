//! Stored password hashes: which scheme a hash string is, and whether a
//! candidate password matches it, with the real algorithms (pwhash: DES,
//! MD5, SHA-256/512 crypt, bcrypt; yescrypt; Apache's `$apr1$` MD5 and
//! `{SHA}`; mosquitto's `$6$`/`$7$`). Used only for a bounded list of
//! default credentials, never to search.

use base64::Engine;
use sha2::{Digest, Sha512};

/// A password hash scheme as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// Traditional DES crypt (13 characters).
    Des,
    /// `$1$`
    Md5,
    /// `$apr1$` (Apache htpasswd)
    Apr1,
    /// `$5$`
    Sha256,
    /// `$6$` in a system password file
    Sha512,
    /// `$2a$`, `$2b$`, `$2y$`
    Bcrypt,
    /// `$y$`
    Yescrypt,
    /// `{SHA}` base64 of an unsalted SHA-1 (htpasswd -s)
    Sha1,
    /// mosquitto_passwd `$6$salt$hash`: SHA-512 of password and salt
    MosquittoSha512,
    /// mosquitto_passwd `$7$iterations$salt$hash`: PBKDF2-SHA512
    MosquittoPbkdf2,
    /// A scheme fwaudit cannot verify (`$7$` scrypt, `$gy$`, ...).
    Other,
}

impl Scheme {
    pub fn name(self) -> &'static str {
        match self {
            Scheme::Des => "DES crypt",
            Scheme::Md5 => "MD5 crypt",
            Scheme::Apr1 => "Apache MD5 (apr1)",
            Scheme::Sha256 => "SHA-256 crypt",
            Scheme::Sha512 => "SHA-512 crypt",
            Scheme::Bcrypt => "bcrypt",
            Scheme::Yescrypt => "yescrypt",
            Scheme::Sha1 => "unsalted SHA-1",
            Scheme::MosquittoSha512 => "mosquitto SHA-512",
            Scheme::MosquittoPbkdf2 => "mosquitto PBKDF2-SHA512",
            Scheme::Other => "unknown scheme",
        }
    }

    /// Schemes that fall to an offline attack on one GPU (FW-ACC-004).
    pub fn weak(self) -> bool {
        matches!(
            self,
            Scheme::Des | Scheme::Md5 | Scheme::Apr1 | Scheme::Sha1
        )
    }

    /// Seconds-scale schemes: the candidate list is cut for them.
    pub fn slow(self) -> bool {
        matches!(self, Scheme::Bcrypt | Scheme::Yescrypt)
    }
}

/// The scheme of a hash from a system password file (`/etc/shadow`,
/// htpasswd); `mosquitto` reads `$6$`/`$7$` the way mosquitto_passwd writes them.
pub fn scheme(hash: &str, mosquitto: bool) -> Scheme {
    if mosquitto {
        if hash.starts_with("$6$") {
            return Scheme::MosquittoSha512;
        }
        if hash.starts_with("$7$") {
            return Scheme::MosquittoPbkdf2;
        }
    }
    let des = hash.len() == 13
        && hash
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'/');
    match () {
        _ if des => Scheme::Des,
        _ if hash.starts_with("$1$") => Scheme::Md5,
        _ if hash.starts_with("$apr1$") => Scheme::Apr1,
        _ if hash.starts_with("$5$") => Scheme::Sha256,
        _ if hash.starts_with("$6$") => Scheme::Sha512,
        _ if ["$2a$", "$2b$", "$2y$"].iter().any(|p| hash.starts_with(p)) => Scheme::Bcrypt,
        _ if hash.starts_with("$y$") => Scheme::Yescrypt,
        _ if hash.starts_with("{SHA}") => Scheme::Sha1,
        _ => Scheme::Other,
    }
}

/// True when `password` hashes to `hash` under `scheme`.
pub fn verify(scheme: Scheme, password: &str, hash: &str) -> bool {
    match scheme {
        Scheme::Des | Scheme::Md5 | Scheme::Sha256 | Scheme::Sha512 | Scheme::Bcrypt => {
            // pwhash parses the hash string; a malformed one never matches.
            std::panic::catch_unwind(|| pwhash::unix::verify(password, hash)).unwrap_or(false)
        }
        Scheme::Yescrypt => {
            use yescrypt::PasswordVerifier;
            yescrypt::Yescrypt::default()
                .verify_password(password.as_bytes(), hash)
                .is_ok()
        }
        Scheme::Apr1 => apr1(password, hash),
        Scheme::Sha1 => {
            use sha1::Sha1;
            let digest = Sha1::digest(password.as_bytes());
            hash.strip_prefix("{SHA}")
                == Some(&base64::engine::general_purpose::STANDARD.encode(digest))
        }
        Scheme::MosquittoSha512 => mosquitto(password, hash, None),
        Scheme::MosquittoPbkdf2 => {
            let iterations = hash
                .split('$')
                .nth(2)
                .and_then(|n| n.parse::<u32>().ok())
                .filter(|&n| n > 0 && n <= 1_000_000);
            iterations.is_some_and(|n| mosquitto(password, hash, Some(n)))
        }
        Scheme::Other => false,
    }
}

/// mosquitto_passwd: `$6$` base64(salt) `$` base64(SHA-512(password || salt)),
/// or `$7$` iterations `$` salt `$` PBKDF2-HMAC-SHA512 (64 bytes).
fn mosquitto(password: &str, hash: &str, iterations: Option<u32>) -> bool {
    let b64 = &base64::engine::general_purpose::STANDARD;
    let parts: Vec<&str> = hash.split('$').collect();
    let (salt, want) = match (iterations, parts.as_slice()) {
        (None, ["", "6", salt, want]) => (*salt, *want),
        (Some(_), ["", "7", _, salt, want]) => (*salt, *want),
        _ => return false,
    };
    let (Ok(salt), Ok(want)) = (b64.decode(salt), b64.decode(want)) else {
        return false;
    };
    let got = match iterations {
        None => {
            let mut h = Sha512::new();
            h.update(password.as_bytes());
            h.update(&salt);
            h.finalize().to_vec()
        }
        Some(n) => {
            let mut out = vec![0u8; want.len().clamp(1, 64)];
            pbkdf2::pbkdf2_hmac::<Sha512>(password.as_bytes(), &salt, n, &mut out);
            out
        }
    };
    got == want
}

/// Apache's `$apr1$salt$hash`: MD5 crypt with the magic `$apr1$` (there is
/// no maintained crate for this one; the algorithm is Poul-Henning Kamp's
/// md5crypt as apr_md5.c implements it).
fn apr1(password: &str, hash: &str) -> bool {
    let Some(rest) = hash.strip_prefix("$apr1$") else {
        return false;
    };
    let Some((salt, _)) = rest.split_once('$') else {
        return false;
    };
    let salt = &salt.as_bytes()[..salt.len().min(8)];
    md5_crypt(password.as_bytes(), salt, b"$apr1$") == hash
}

fn md5_crypt(pw: &[u8], salt: &[u8], magic: &[u8]) -> String {
    use md5::{Digest as _, Md5};
    let mut alt = Md5::new();
    alt.update(pw);
    alt.update(salt);
    alt.update(pw);
    let alt = alt.finalize();
    let mut ctx = Md5::new();
    ctx.update(pw);
    ctx.update(magic);
    ctx.update(salt);
    let mut left = pw.len();
    while left > 0 {
        let n = left.min(16);
        ctx.update(&alt[..n]);
        left -= n;
    }
    let mut i = pw.len();
    while i > 0 {
        if i & 1 == 1 {
            ctx.update([0u8]);
        } else {
            ctx.update(&pw[..1]);
        }
        i >>= 1;
    }
    let mut fin = ctx.finalize();
    for r in 0..1000 {
        let mut c = Md5::new();
        if r & 1 == 1 {
            c.update(pw);
        } else {
            c.update(fin);
        }
        if r % 3 != 0 {
            c.update(salt);
        }
        if r % 7 != 0 {
            c.update(pw);
        }
        if r & 1 == 1 {
            c.update(fin);
        } else {
            c.update(pw);
        }
        fin = c.finalize();
    }
    const ITOA: &[u8] = b"./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut out = String::new();
    let mut push = |v: u32, n: usize| {
        let mut v = v;
        for _ in 0..n {
            out.push(ITOA[(v & 0x3f) as usize] as char);
            v >>= 6;
        }
    };
    let f = |i: usize| u32::from(fin[i]);
    for (a, b, c) in [(0, 6, 12), (1, 7, 13), (2, 8, 14), (3, 9, 15), (4, 10, 5)] {
        push((f(a) << 16) | (f(b) << 8) | f(c), 4);
    }
    push(f(11), 2);
    format!(
        "{}{}${out}",
        String::from_utf8_lossy(magic),
        String::from_utf8_lossy(salt)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemes_are_told_apart() {
        assert_eq!(scheme("abJnggxhB/yWI", false), Scheme::Des);
        assert_eq!(scheme("$1$x$y", false), Scheme::Md5);
        assert_eq!(scheme("$6$x$y", true), Scheme::MosquittoSha512);
        assert_eq!(scheme("$6$x$y", false), Scheme::Sha512);
        assert_eq!(scheme("$y$j9T$a$b", false), Scheme::Yescrypt);
        assert_eq!(scheme("!", false), Scheme::Other);
    }

    #[test]
    fn md5_crypt_matches_the_published_vector() {
        // The `$1$` form of the same code, checked against pwhash.
        let ours = md5_crypt(b"password", b"saltsalt", b"$1$");
        assert!(pwhash::unix::verify("password", &ours), "{ours}");
    }
}

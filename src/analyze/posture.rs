//! Device posture: the checks that read the unpacked tree itself rather
//! than the inventory (binary hardening, keys and certificates, accounts,
//! services, messaging, file modes). Each check is one file; this one runs
//! the chosen ones and gathers what they found.

use super::rootfs;
use super::rules::{Check, Checks};
use super::{accounts, file_modes, hardening, keys, messaging, services, verified_boot};
use crate::binary::ElfInfo;
use crate::model::Finding;
use crate::unpack::Unpacked;
use serde::{Deserialize, Serialize};

/// How to judge posture.
#[derive(Debug, Clone)]
pub struct Options {
    pub checks: Checks,
    /// The instant certificates are judged against, RFC 3339 UTC.
    pub now: String,
    /// Print a default password that matched (else only which list entry).
    pub show_secrets: bool,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            checks: Checks::default(),
            now: default_now(),
            show_secrets: false,
        }
    }
}

/// Now, or the start of `FWAUDIT_TODAY` when that pins the date.
pub fn default_now() -> String {
    crate::date::now_or_pinned()
}

/// `--now`: `YYYY-MM-DD` or RFC 3339 UTC (`2027-01-01T12:00:00Z`) -> RFC 3339 UTC.
pub fn parse_now(text: &str) -> Result<String, String> {
    crate::date::parse_instant(text)
        .ok_or_else(|| format!("--now {text:?}: expected YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ"))
}

/// What the posture checks found in one target.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Posture {
    pub findings: Vec<Finding>,
    /// Keys and certificates (the CBOM).
    pub crypto: Vec<keys::CryptoAsset>,
    /// How many programs lack each protection.
    pub hardening: Option<hardening::Summary>,
}

/// Runs the chosen posture checks over the whole tree; fills in the
/// FORTIFY verdict of every ELF file.
pub fn run(unpacked: &Unpacked, elfs: &mut [(usize, ElfInfo)], options: &Options) -> Posture {
    let mut posture = Posture::default();
    if options.checks.has(Check::Secrets) {
        posture.crypto = keys::inventory(&unpacked.files);
        posture
            .findings
            .extend(keys::findings(&posture.crypto, &options.now));
        posture.findings.extend(verified_boot::findings(unpacked));
    }
    let filesystems = rootfs::all(unpacked);
    if options.checks.has(Check::Hardening) && !elfs.is_empty() {
        let (summary, findings) = hardening::judge(elfs, unpacked, &filesystems);
        posture.hardening = Some(summary);
        posture.findings.extend(findings);
    }
    for fs in &filesystems {
        if options.checks.has(Check::Accounts) {
            posture
                .findings
                .extend(accounts::findings(fs, options.show_secrets));
        }
        if options.checks.has(Check::Services) {
            posture.findings.extend(services::findings(fs));
            posture.findings.extend(messaging::findings(fs));
            posture.findings.extend(file_modes::findings(fs));
        }
    }
    posture
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn now_takes_a_date_or_an_instant() {
        assert_eq!(parse_now("2027-01-02").unwrap(), "2027-01-02T00:00:00Z");
        assert_eq!(
            parse_now("2027-01-02T03:04:05Z").unwrap(),
            "2027-01-02T03:04:05Z"
        );
        assert!(parse_now("tomorrow").unwrap_err().contains("--now"));
        assert!(parse_now("2027-1-2").is_err());
    }
}

//! Unix `ar` archives: Debian `.deb` and OpenWrt `.ipk` packages
//! (`debian-binary`, `control.tar.*`, `data.tar.*`) and static libraries.
//! Members are files without a tree, so no namespace; the tarballs inside are
//! carved and become their own layers. GNU (`/`, `//`, `/N`) and BSD (`#1/N`)
//! long names are understood.

use super::{Entry, Extracted, Format, Problem, Rejection};
use crate::unpack::limits::Budget;
use crate::unpack::tree::EntryKind;

pub struct Ar;

const MAGIC: &[u8] = b"!<arch>\n";
const HEADER_LEN: usize = 60;

/// Decimal field, space padded.
fn decimal(field: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(field).ok()?.trim_end_matches(' ');
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

impl Format for Ar {
    fn name(&self) -> &'static str {
        "ar"
    }

    fn magics(&self) -> &'static [&'static [u8]] {
        &[MAGIC]
    }

    fn extract(&self, data: &[u8], budget: &mut Budget) -> Result<Extracted, Rejection> {
        let archive = members(data).ok_or(Rejection::NotThisFormat)?;
        let mut out = Extracted {
            detail: Some("ar".into()),
            size: archive.size,
            notes: archive.problems,
            ..Default::default()
        };
        for (name, body) in archive.members {
            if let Err(bound) = budget.entry() {
                out.notes.push(Problem::Limit(format!(
                    "ar: {bound} reached; the rest of its members were skipped"
                )));
                break;
            }
            if let Err(bound) = budget.charge(body.len() as u64) {
                out.notes.push(Problem::Limit(format!(
                    "ar member {name}: {} bytes reach {bound}; skipped",
                    body.len()
                )));
                continue;
            }
            out.entries.push(Entry {
                path: if name.is_empty() {
                    format!("member-{}", out.entries.len())
                } else {
                    name
                },
                kind: EntryKind::File,
                data: body.to_vec(),
                meta: None,
            });
        }
        Ok(out)
    }
}

/// An ar archive's members, borrowed from the archive.
pub struct Members<'a> {
    /// Name and bytes of every member, in order (symbol tables and the
    /// long-name table left out).
    pub members: Vec<(String, &'a [u8])>,
    /// Where the archive is damaged.
    pub problems: Vec<Problem>,
    /// Bytes of `data` the archive occupies.
    pub size: u64,
}

/// Reads the members of the ar archive at `data[0]`, without copying
/// them; `None` when it is not one. The one ar reader: the carver and the
/// package-file manifest reader both use it.
pub fn members(data: &[u8]) -> Option<Members<'_>> {
    let first = data.get(MAGIC.len()..MAGIC.len() + HEADER_LEN)?;
    if !data.starts_with(MAGIC) || &first[58..60] != b"`\n" || decimal(&first[48..58]).is_none() {
        return None;
    }
    let mut out = Members {
        members: Vec::new(),
        problems: Vec::new(),
        size: 0,
    };
    let mut long_names: &[u8] = &[];
    let mut at = MAGIC.len();
    while at < data.len() {
        // Members are 2-byte aligned; a lone newline pads odd sizes.
        let Some(h) = data.get(at..at + HEADER_LEN) else {
            out.problems.push(Problem::Error(format!(
                "ar: member header at {at:#x} is truncated"
            )));
            break;
        };
        let size = match (&h[58..60], decimal(&h[48..58])) {
            (b"`\n", Some(size)) => size as usize,
            // Trailing bytes after the last member end the archive.
            _ => break,
        };
        let start = at + HEADER_LEN;
        let Some(body) = data.get(start..start.saturating_add(size)) else {
            out.problems.push(Problem::Error(format!(
                "ar: member at {at:#x} declares {size} bytes but the data ends at {:#x}",
                data.len()
            )));
            out.size = data.len() as u64;
            break;
        };
        at = start + size + size % 2;
        out.size = at.min(data.len()) as u64;
        let raw_name = &h[..16];
        let (name, body) = if raw_name == b"//              " {
            long_names = body;
            continue;
        } else if raw_name.starts_with(b"/ ") || raw_name.starts_with(b"/SYM64/") {
            continue; // symbol table
        } else if let Some(index) = raw_name.strip_prefix(b"/").and_then(decimal) {
            let rest = long_names.get(index as usize..).unwrap_or_default();
            let end = rest
                .iter()
                .position(|&b| b == b'\n' || b == 0)
                .unwrap_or(rest.len());
            (String::from_utf8_lossy(&rest[..end]).into_owned(), body)
        } else if let Some(len) = raw_name.strip_prefix(b"#1/").and_then(decimal) {
            let len = (len as usize).min(body.len());
            (
                String::from_utf8_lossy(&body[..len]).into_owned(),
                &body[len..],
            )
        } else {
            let text = String::from_utf8_lossy(raw_name);
            (text.trim_end_matches(' ').to_string(), body)
        };
        let name = name
            .trim_end_matches('/')
            .trim_end_matches('\0')
            .to_string();
        out.members.push((name, body));
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::unpack::limits::Limits;

    /// A `.deb` built with `ar rc` from `debian-binary`, `control.tar.gz`
    /// and `data.tar.xz` the way dpkg-deb lays them out (see make.sh).
    const DEB: &[u8] = include_bytes!("../../../tests/fixtures/hello.deb");

    #[test]
    fn lists_deb_members() {
        let out = Ar
            .extract(DEB, &mut Budget::new(Limits::default()))
            .unwrap();
        let names: Vec<_> = out.entries.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(names, ["debian-binary", "control.tar.gz", "data.tar.xz"]);
        assert_eq!(out.entries[0].data, b"2.0\n");
        assert_eq!(out.size, DEB.len() as u64);
        assert!(out.notes.is_empty());
    }

    #[test]
    fn truncation_is_noted() {
        for cut in (MAGIC.len() + HEADER_LEN..DEB.len()).step_by(5) {
            let out = Ar
                .extract(&DEB[..cut], &mut Budget::new(Limits::default()))
                .unwrap();
            let complete = out.size == cut as u64 && out.notes.is_empty();
            assert!(complete || !out.notes.is_empty(), "cut {cut}");
        }
    }
}

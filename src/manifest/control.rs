//! Debian control-file syntax (deb822): paragraphs of `Field: value` lines,
//! continuation lines start with white space. Shared by dpkg and opkg status.

/// One paragraph: fields in file order, with the line it started on.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Paragraph {
    pub line: usize,
    pub fields: Vec<(String, String)>,
}

impl Paragraph {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Parses `text`; a line that is neither a field nor a continuation is an
/// error naming its line number.
pub fn parse(text: &str) -> Result<Vec<Paragraph>, String> {
    let mut out = Vec::new();
    let mut current = Paragraph::default();
    for (n, line) in text.lines().enumerate() {
        let line_no = n + 1;
        if line.trim().is_empty() {
            if !current.fields.is_empty() {
                out.push(std::mem::take(&mut current));
            }
            continue;
        }
        if line.starts_with([' ', '\t']) {
            match current.fields.last_mut() {
                Some((_, value)) => {
                    value.push('\n');
                    value.push_str(line.trim());
                }
                None => return Err(format!("line {line_no}: continuation line outside a field")),
            }
            continue;
        }
        let Some((name, value)) = line.split_once(':') else {
            return Err(format!("line {line_no}: expected `Field: value`"));
        };
        if name.is_empty() || name.contains(char::is_whitespace) {
            return Err(format!("line {line_no}: malformed field name {name:?}"));
        }
        if current.fields.is_empty() {
            current.line = line_no;
        }
        current
            .fields
            .push((name.to_string(), value.trim().to_string()));
    }
    if !current.fields.is_empty() {
        out.push(current);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_paragraphs_and_continuations() {
        let text = "Package: a\nVersion: 1\nDescription: x\n more\n\n\nPackage: b\n";
        let p = parse(text).unwrap();
        assert_eq!(p.len(), 2);
        assert_eq!(p[0].get("description"), Some("x\nmore"));
        assert_eq!(p[1].line, 7);
    }

    #[test]
    fn relation_fields() {
        assert_eq!(
            relation_names(
                "libc6 (>= 2.34), libssl3 (>= 3.0.0) | libssl1.1,\n perl:any, foo [amd64] <!nocheck>"
            ),
            [
                vec!["libc6"],
                vec!["libssl3", "libssl1.1"],
                vec!["perl"],
                vec!["foo"]
            ]
        );
        assert!(relation_names(" , ").is_empty());
    }

    #[test]
    fn rejects_garbage_with_a_line_number() {
        assert_eq!(
            parse("Package: a\nnot a field\n").unwrap_err(),
            "line 2: expected `Field: value`"
        );
        assert!(parse(" leading continuation\n").is_err());
    }
}

/// One installed package from a dpkg or opkg status database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Installed {
    /// Line the package's stanza starts on.
    pub line: usize,
    pub name: String,
    pub version: String,
    pub arch: String,
    /// Source package name (`Source: openssl (3.0.17-1)` gives `openssl`).
    pub source: Option<String>,
    /// `Pre-Depends` and `Depends`: groups of alternative package names.
    pub depends: Vec<Vec<String>>,
    /// Virtual package names from `Provides`.
    pub provides: Vec<String>,
    /// The `Status` state when it is not `installed` but the files are on
    /// the device (`unpacked`, `half-configured`, ...).
    pub status: Option<String>,
}

/// Package names of a relation field: `libc6 (>= 2.34), libssl3 | libssl1.1,
/// perl:any` gives `[[libc6], [libssl3, libssl1.1], [perl]]`. Versions,
/// architecture qualifiers and `[arch]` / `<profile>` restrictions are dropped.
pub fn relation_names(field: &str) -> Vec<Vec<String>> {
    field
        .split(',')
        .map(|group| {
            group
                .split('|')
                .filter_map(|alt| {
                    let name = alt
                        .split(['(', '[', '<', ' ', '\n', '\t'])
                        .find(|w| !w.is_empty())?;
                    let name = name.split(':').next().unwrap_or(name);
                    (!name.is_empty()).then(|| name.to_string())
                })
                .collect::<Vec<_>>()
        })
        .filter(|group| !group.is_empty())
        .collect()
}

/// Relations of `packages`, in the same order, for [`super::Parsed`].
pub fn relations(packages: &[Installed]) -> Vec<super::Relations> {
    packages
        .iter()
        .enumerate()
        .map(|(component, p)| super::Relations {
            component,
            provides: p.provides.clone(),
            depends: p.depends.clone(),
        })
        .collect()
}

/// Package states whose files are on the device: fully installed, and the
/// states debian-installer and image builders leave behind (`install ok
/// unpacked`: files in place, maintainer scripts not run). `half-installed`,
/// `config-files` and `not-installed` packages are not (or not wholly) there.
const ON_DEVICE: &[&str] = &[
    "installed",
    "unpacked",
    "half-configured",
    "triggers-awaited",
    "triggers-pending",
];

/// Packages whose `Status` says their files are on the device (see
/// [`ON_DEVICE`]); removed packages (`deinstall ok config-files`) are not.
pub fn installed(text: &str) -> Result<Vec<Installed>, String> {
    packages(text, true)
}

/// Packages of a control file that describes installed packages only
/// (distroless `status.d/*`, opkg `info/*.control`): a stanza without
/// `Status` counts as installed, one whose `Status` says otherwise does not.
pub fn listed(text: &str) -> Result<Vec<Installed>, String> {
    packages(text, false)
}

fn packages(text: &str, need_status: bool) -> Result<Vec<Installed>, String> {
    let mut out = Vec::new();
    for p in parse(text)? {
        let field = |name: &str| {
            p.get(name)
                .ok_or_else(|| format!("line {}: package stanza without `{name}`", p.line))
        };
        let name = field("Package")?;
        let state = p.get("Status").map(|s| s.split_whitespace().nth(2));
        let on_device = match state {
            Some(state) => state.is_some_and(|s| ON_DEVICE.contains(&s)),
            None => !need_status,
        };
        if !on_device {
            continue;
        }
        out.push(Installed {
            line: p.line,
            name: name.to_string(),
            version: field("Version")?.to_string(),
            arch: p.get("Architecture").unwrap_or("all").to_string(),
            source: p
                .get("Source")
                .and_then(|s| s.split_whitespace().next())
                .map(str::to_string),
            depends: ["Pre-Depends", "Depends"]
                .iter()
                .filter_map(|f| p.get(f))
                .flat_map(relation_names)
                .collect(),
            provides: p
                .get("Provides")
                .map(relation_names)
                .unwrap_or_default()
                .into_iter()
                .flatten()
                .collect(),
            status: state
                .flatten()
                .filter(|s| *s != "installed")
                .map(str::to_string),
        });
    }
    Ok(out)
}

//! Stage 2c: components declared by package databases shipped in the image.
//! One file per manifest kind; each knows the paths it lives at.

pub mod control;
pub mod dpkg;
pub mod opkg;

use crate::identify::catalog;
use crate::model::{Component, Evidence, Upstream};
use crate::unpack::{Level, Note, Unpacked};

/// A manifest reader: where its file lives and how to read it.
struct Reader {
    path: &'static str,
    parse: fn(&str, &str) -> Result<Vec<Component>, String>,
}

static READERS: &[Reader] = &[
    Reader {
        path: "/var/lib/dpkg/status",
        parse: dpkg::parse,
    },
    Reader {
        path: "/usr/lib/opkg/status",
        parse: opkg::parse,
    },
];

/// Components from every manifest found in `unpacked`; a malformed manifest
/// becomes an error note and the others are still read.
pub fn components(unpacked: &Unpacked) -> (Vec<Component>, Vec<Note>) {
    let mut found = Vec::new();
    let mut notes = Vec::new();
    for file in unpacked.files.iter().filter(|f| f.is_regular()) {
        let Some(fs) = &file.fs else { continue };
        let Some(reader) = READERS.iter().find(|r| r.path == fs.path) else {
            continue;
        };
        let result = std::str::from_utf8(&file.data)
            .map_err(|e| format!("not UTF-8 text: {e}"))
            .and_then(|text| (reader.parse)(&file.path, text));
        match result {
            Ok(components) => found.extend(components),
            Err(message) => notes.push(Note {
                level: Level::Error,
                path: file.path.clone(),
                offset: None,
                message: format!("malformed package database: {message}"),
            }),
        }
    }
    (found, notes)
}

/// A package-database entry as a component: `product` is the upstream
/// project it carries (if known), at `upstream_version`.
fn package_component(
    package: &control::Installed,
    ecosystem: &str,
    purl: String,
    method: &str,
    path: &str,
    product: Option<&str>,
    upstream_version: String,
) -> Component {
    let upstream = product.map(|name| Upstream {
        name: name.to_string(),
        version: upstream_version,
    });
    Component {
        name: package.name.clone(),
        version: package.version.clone(),
        purl,
        cpe: upstream
            .as_ref()
            .and_then(|u| catalog::cpe(&u.name, &u.version)),
        ecosystem: ecosystem.to_string(),
        upstream,
        sources: vec![Evidence {
            method: method.to_string(),
            path: path.to_string(),
            offset: None,
            sha256: None,
            evidence: format!(
                "line {}: Package: {}, Version: {}",
                package.line, package.name, package.version
            ),
        }],
    }
}

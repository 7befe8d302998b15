//! rpm's database of installed packages in its SQLite form,
//! `/var/lib/rpm/rpmdb.sqlite` (Fedora 33+, RHEL 9, openSUSE): table
//! `Packages(hnum, blob)` where each blob is an rpm header. The database is
//! opened from the bytes in memory (SQLite's deserialize), never from disk.
//!
//! The older BerkeleyDB `Packages` file (rpm before 4.16: RHEL/CentOS 7 and
//! 8, Amazon Linux 2) holds the same header blobs as values of a BerkeleyDB
//! hash database, split across overflow pages. It is not read here: device
//! firmware built with rpm 4.16 or later uses SQLite, and reading the hash
//! pages without libdb is a separate page-format parser worth its own file
//! once server and container images of those releases are in scope.

use crate::identify::catalog;
use crate::model::Distro;
use crate::model::{Component, Evidence, Upstream};
use rusqlite::{Connection, OpenFlags};

const TAG_NAME: u32 = 1000;
const TAG_VERSION: u32 = 1001;
const TAG_RELEASE: u32 = 1002;
const TAG_EPOCH: u32 = 1003;
const TAG_VENDOR: u32 = 1011;
const TAG_ARCH: u32 = 1022;
const TAG_SOURCERPM: u32 = 1044;
const TAG_DIRINDEXES: u32 = 1116;
const TAG_BASENAMES: u32 = 1117;
const TAG_DIRNAMES: u32 = 1118;

const TYPE_INT32: u32 = 4;
const TYPE_STRING: u32 = 6;
const TYPE_STRING_ARRAY: u32 = 8;
const TYPE_I18NSTRING: u32 = 9;

/// How many SQLite VM instructions pass between two calls of the progress
/// handler.
const PROGRESS_EVERY: i32 = 1000;
/// SQLite's heap for the whole process (only this reader uses SQLite).
const SQLITE_HEAP_LIMIT: i64 = 256 << 20;

/// Installed packages in an rpmdb.sqlite held in `data`.
///
/// The database is the image's, so it is as hostile as the rest: opened
/// in defensive mode with an untrusted schema, `Packages` must be an
/// ordinary table (a view could run any query: a recursive CTE or a cross
/// join that never ends), the query is interrupted after a number of VM
/// instructions proportional to the database's size, and SQLite's heap is
/// capped.
pub fn parse(path: &str, data: &[u8], distro: Option<&Distro>) -> Result<Vec<Component>, String> {
    let mut conn = Connection::open_with_flags(
        ":memory:",
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| format!("cannot open SQLite: {e}"))?;
    harden(&conn).map_err(|e| format!("cannot configure SQLite: {e}"))?;
    // rpm keeps its database in WAL mode; a deserialized database cannot
    // open a WAL, so read the (checkpointed) main file as rollback-journal.
    let mut bytes = data.to_vec();
    if bytes.len() > 19 && bytes[18] == 2 && bytes[19] == 2 {
        bytes[18] = 1;
        bytes[19] = 1;
    }
    conn.deserialize_read_exact("main", bytes.as_slice(), bytes.len(), true)
        .map_err(|e| format!("not an SQLite database: {e}"))?;
    drop(bytes);
    packages_is_a_table(&conn)?;
    // Reading N rows of a table takes some tens of instructions each; a
    // query past this many is not reading a table.
    let most = 16u64
        .saturating_mul(data.len() as u64)
        .saturating_add(10_000_000);
    let mut steps = 0u64;
    conn.progress_handler(
        PROGRESS_EVERY,
        Some(move || {
            steps += u64::from(PROGRESS_EVERY.unsigned_abs());
            steps > most
        }),
    )
    .map_err(|e| format!("cannot configure SQLite: {e}"))?;
    let interrupted = |e: rusqlite::Error| {
        if e.sqlite_error_code() == Some(rusqlite::ErrorCode::OperationInterrupted) {
            format!(
                "reading Packages stopped after {most} SQLite instructions (a table of this size needs far fewer)"
            )
        } else {
            format!("cannot read Packages: {e}")
        }
    };
    let mut stmt = conn
        .prepare("SELECT hnum, blob FROM Packages ORDER BY hnum")
        .map_err(|e| format!("no rpm Packages table: {e}"))?;
    let rows = stmt
        .query_map([], |row| {
            Ok((row.get::<_, i64>(0)?, row.get::<_, Vec<u8>>(1)?))
        })
        .map_err(interrupted)?;
    let mut out = Vec::new();
    for row in rows {
        let (hnum, blob) = row.map_err(interrupted)?;
        let header = Header::parse(&blob).map_err(|e| format!("package {hnum}: {e}"))?;
        out.push(header.component(path, hnum, distro)?);
    }
    Ok(out)
}

/// Defensive mode (no writes to the schema or shadow tables), an untrusted
/// schema (no functions with side effects in views or triggers), no
/// attached databases, values no longer than the database can hold, and a
/// cap on SQLite's heap.
fn harden(conn: &Connection) -> rusqlite::Result<()> {
    use rusqlite::config::DbConfig;
    use rusqlite::limits::Limit;
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_DEFENSIVE, true)?;
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_TRUSTED_SCHEMA, false)?;
    conn.set_limit(Limit::SQLITE_LIMIT_ATTACHED, 0)?;
    conn.set_limit(Limit::SQLITE_LIMIT_LENGTH, super::MAX_MANIFEST_BYTES as i32)?;
    conn.pragma_update(None, "hard_heap_limit", SQLITE_HEAP_LIMIT)?;
    Ok(())
}

/// Refuses a `Packages` that is a view, a virtual table or missing: only
/// rpm's own `CREATE TABLE` is read.
fn packages_is_a_table(conn: &Connection) -> Result<(), String> {
    let found: Option<(String, String)> = conn
        .query_row(
            "SELECT type, sql FROM sqlite_schema WHERE name = 'Packages' COLLATE NOCASE",
            [],
            |row| {
                Ok((
                    row.get(0)?,
                    row.get::<_, Option<String>>(1)?.unwrap_or_default(),
                ))
            },
        )
        .map(Some)
        .or_else(|e| match e {
            rusqlite::Error::QueryReturnedNoRows => Ok(None),
            e => Err(format!("cannot read the schema: {e}")),
        })?;
    match found {
        None => Err("no rpm Packages table".to_string()),
        Some((kind, _)) if kind != "table" => Err(format!(
            "Packages is a {kind}, not a table: refused (a {kind} runs a query the database chose)"
        )),
        Some((_, sql))
            if !sql
                .trim_start()
                .to_ascii_uppercase()
                .starts_with("CREATE TABLE") =>
        {
            Err("Packages is a virtual table, not a table: refused".to_string())
        }
        Some(_) => Ok(()),
    }
}

/// The tags of one rpm header that identify a package.
#[derive(Debug, Default, PartialEq)]
pub struct Header {
    pub name: Option<String>,
    pub version: Option<String>,
    pub release: Option<String>,
    pub epoch: Option<u32>,
    pub arch: Option<String>,
    pub vendor: Option<String>,
    pub source_rpm: Option<String>,
    pub files: Vec<String>,
}

fn be32(data: &[u8], at: usize) -> Result<u32, String> {
    data.get(at..at + 4)
        .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
        .ok_or_else(|| format!("header truncated at byte {at}"))
}

impl Header {
    /// Parses a header blob as rpmdb stores it: index count, data length,
    /// 16-byte index entries (tag, type, offset, count), then the data store.
    pub fn parse(blob: &[u8]) -> Result<Header, String> {
        let entries = be32(blob, 0)? as usize;
        let data_len = be32(blob, 4)? as usize;
        let store_at = entries
            .checked_mul(16)
            .and_then(|n| n.checked_add(8))
            .filter(|&n| n <= blob.len())
            .ok_or_else(|| format!("{entries} index entries do not fit in {} bytes", blob.len()))?;
        let store = blob
            .get(store_at..store_at.saturating_add(data_len))
            .ok_or_else(|| format!("data store of {data_len} bytes runs past the blob"))?;
        let mut h = Header::default();
        let (mut dir_indexes, mut basenames, mut dirnames) = (Vec::new(), Vec::new(), Vec::new());
        for i in 0..entries {
            let at = 8 + i * 16;
            let (tag, kind) = (be32(blob, at)?, be32(blob, at + 4)?);
            let (offset, count) = (be32(blob, at + 8)? as usize, be32(blob, at + 12)? as usize);
            let field = Field {
                store,
                kind,
                offset,
                count,
                tag,
            };
            match tag {
                TAG_NAME => h.name = Some(field.string()?),
                TAG_VERSION => h.version = Some(field.string()?),
                TAG_RELEASE => h.release = Some(field.string()?),
                TAG_EPOCH => h.epoch = field.int32s()?.first().copied(),
                TAG_VENDOR => h.vendor = Some(field.string()?),
                TAG_ARCH => h.arch = Some(field.string()?),
                TAG_SOURCERPM => h.source_rpm = Some(field.string()?),
                TAG_DIRINDEXES => dir_indexes = field.int32s()?,
                TAG_BASENAMES => basenames = field.strings()?,
                TAG_DIRNAMES => dirnames = field.strings()?,
                _ => {}
            }
        }
        for (base, dir) in basenames.iter().zip(&dir_indexes) {
            let dir = dirnames.get(*dir as usize).ok_or_else(|| {
                format!("file {base:?} names directory {dir} of {}", dirnames.len())
            })?;
            h.files.push(format!("{dir}{base}"));
        }
        Ok(h)
    }

    fn component(
        self,
        path: &str,
        hnum: i64,
        distro: Option<&Distro>,
    ) -> Result<Component, String> {
        let (Some(name), Some(version)) = (self.name, self.version) else {
            return Err(format!("package {hnum}: header without name or version"));
        };
        let release = self.release.unwrap_or_default();
        let evr = match self.epoch {
            Some(e) => format!("{e}:{version}-{release}"),
            None => format!("{version}-{release}"),
        };
        let epoch = self.epoch.map(|e| e.to_string()).unwrap_or_default();
        let release_distro = distro
            .filter(|d| {
                d.is_like(&[
                    "rhel",
                    "fedora",
                    "centos",
                    "rocky",
                    "almalinux",
                    "suse",
                    "opensuse",
                    "sles",
                    "amzn",
                    "ol",
                ])
            })
            .and_then(Distro::purl_distro)
            .unwrap_or_default();
        let purl = crate::purl::build(
            "rpm",
            self.vendor.as_deref().and_then(namespace).as_deref(),
            &name,
            &format!("{version}-{release}"),
            &[
                ("arch", self.arch.as_deref().unwrap_or_default()),
                ("epoch", &epoch),
                ("distro", &release_distro),
            ],
        );
        // `openssl-libs-3.0.7-27.el9.src.rpm` names the source package `openssl-libs`..
        let source = self.source_rpm.as_deref().and_then(source_name);
        let product = source
            .as_deref()
            .and_then(catalog::product_for_package)
            .or_else(|| catalog::product_for_package(&name));
        let upstream = product.map(|p| Upstream {
            name: p.to_string(),
            version: crate::version::upstream_of("rpm", &version),
        });
        Ok(Component {
            sources: vec![Evidence {
                sha256: None,
                method: "rpmdb".to_string(),
                path: path.to_string(),
                offset: None,
                line: None,
                evidence: format!("package {hnum}: {name}-{evr}"),
                package: None,
            }],
            cpe: upstream
                .as_ref()
                .and_then(|u| catalog::cpe(&u.name, &u.version)),
            upstream,
            name,
            version: evr,
            purl,
            ecosystem: "rpm".to_string(),
            source_package: source.clone(),
            files: self.files,
            ..Component::default()
        })
    }
}

/// purl namespace from the vendor tag: `Fedora Project` -> `fedora`,
/// `Red Hat, Inc.` -> `redhat`, `openSUSE` -> `opensuse`.
fn namespace(vendor: &str) -> Option<String> {
    let lower = vendor.to_ascii_lowercase();
    if lower.starts_with("red hat") {
        return Some("redhat".to_string());
    }
    let word: String = lower
        .split(|c: char| !c.is_ascii_alphanumeric())
        .find(|w| !w.is_empty())?
        .to_string();
    Some(word)
}

/// Source package name from a source rpm file name: `NAME-VERSION-RELEASE.src.rpm`.
fn source_name(srpm: &str) -> Option<String> {
    let stem = srpm
        .strip_suffix(".src.rpm")
        .or_else(|| srpm.strip_suffix(".nosrc.rpm"))?;
    let (rest, _release) = stem.rsplit_once('-')?;
    let (name, _version) = rest.rsplit_once('-')?;
    Some(name.to_string())
}

struct Field<'a> {
    store: &'a [u8],
    kind: u32,
    offset: usize,
    count: usize,
    tag: u32,
}

impl Field<'_> {
    fn string(&self) -> Result<String, String> {
        match self.kind {
            TYPE_STRING | TYPE_I18NSTRING | TYPE_STRING_ARRAY => self
                .strings()?
                .into_iter()
                .next()
                .ok_or_else(|| format!("tag {} is empty", self.tag)),
            k => Err(format!("tag {} has type {k}, not a string", self.tag)),
        }
    }

    fn strings(&self) -> Result<Vec<String>, String> {
        if !matches!(self.kind, TYPE_STRING | TYPE_STRING_ARRAY | TYPE_I18NSTRING) {
            return Err(format!(
                "tag {} has type {}, not strings",
                self.tag, self.kind
            ));
        }
        let count = if self.kind == TYPE_STRING {
            1
        } else {
            self.count
        };
        let mut at = self.offset;
        let mut out = Vec::with_capacity(count.min(self.store.len()));
        for _ in 0..count {
            let rest = self
                .store
                .get(at..)
                .ok_or_else(|| format!("tag {} points past the data store", self.tag))?;
            let end = rest
                .iter()
                .position(|&b| b == 0)
                .ok_or_else(|| format!("tag {} string is not terminated", self.tag))?;
            out.push(String::from_utf8_lossy(&rest[..end]).into_owned());
            at += end + 1;
        }
        Ok(out)
    }

    fn int32s(&self) -> Result<Vec<u32>, String> {
        if self.kind != TYPE_INT32 {
            return Err(format!(
                "tag {} has type {}, not int32",
                self.tag, self.kind
            ));
        }
        (0..self.count)
            .map(|i| {
                let at = self.offset.checked_add(i.checked_mul(4).ok_or("overflow")?);
                be32(self.store, at.ok_or_else(|| "offset overflow".to_string())?)
            })
            .collect()
    }
}

/// Builds a header blob from `(tag, type, count, data)` entries (tests).
#[cfg(test)]
pub fn build_header(entries: &[(u32, u32, u32, Vec<u8>)]) -> Vec<u8> {
    let mut index = Vec::new();
    let mut store: Vec<u8> = Vec::new();
    for (tag, kind, count, data) in entries {
        if *kind == TYPE_INT32 {
            while !store.len().is_multiple_of(4) {
                store.push(0);
            }
        }
        index.extend_from_slice(&tag.to_be_bytes());
        index.extend_from_slice(&kind.to_be_bytes());
        index.extend_from_slice(&(store.len() as u32).to_be_bytes());
        index.extend_from_slice(&count.to_be_bytes());
        store.extend_from_slice(data);
    }
    let mut blob = Vec::new();
    blob.extend_from_slice(&(entries.len() as u32).to_be_bytes());
    blob.extend_from_slice(&(store.len() as u32).to_be_bytes());
    blob.extend(index);
    blob.extend(store);
    blob
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(text: &str) -> Vec<u8> {
        let mut v = text.as_bytes().to_vec();
        v.push(0);
        v
    }

    fn openssl() -> Vec<u8> {
        build_header(&[
            (TAG_NAME, TYPE_STRING, 1, s("openssl-libs")),
            (TAG_VERSION, TYPE_STRING, 1, s("3.0.7")),
            (TAG_RELEASE, TYPE_STRING, 1, s("27.el9")),
            (TAG_EPOCH, TYPE_INT32, 1, 1u32.to_be_bytes().to_vec()),
            (TAG_ARCH, TYPE_STRING, 1, s("x86_64")),
            (TAG_VENDOR, TYPE_STRING, 1, s("Red Hat, Inc.")),
            (
                TAG_SOURCERPM,
                TYPE_STRING,
                1,
                s("openssl-3.0.7-27.el9.src.rpm"),
            ),
            (
                TAG_DIRINDEXES,
                TYPE_INT32,
                2,
                [0u32.to_be_bytes(), 1u32.to_be_bytes()].concat(),
            ),
            (
                TAG_BASENAMES,
                TYPE_STRING_ARRAY,
                2,
                [s("libssl.so.3"), s("openssl.cnf")].concat(),
            ),
            (
                TAG_DIRNAMES,
                TYPE_STRING_ARRAY,
                2,
                [s("/usr/lib64/"), s("/etc/pki/tls/")].concat(),
            ),
        ])
    }

    fn database(blobs: &[Vec<u8>]) -> Vec<u8> {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE Packages (hnum INTEGER PRIMARY KEY AUTOINCREMENT, blob BLOB NOT NULL);",
        )
        .unwrap();
        for b in blobs {
            conn.execute("INSERT INTO Packages (blob) VALUES (?1)", [b])
                .unwrap();
        }
        conn.serialize("main").unwrap().to_vec()
    }

    #[test]
    fn reads_headers_from_sqlite_bytes() {
        let db = database(&[openssl()]);
        let c = parse("rpmdb.sqlite", &db, None).unwrap();
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].name, "openssl-libs");
        assert_eq!(c[0].version, "1:3.0.7-27.el9");
        assert_eq!(
            c[0].purl,
            "pkg:rpm/redhat/openssl-libs@3.0.7-27.el9?arch=x86_64&epoch=1"
        );
        assert_eq!(
            c[0].files,
            vec!["/usr/lib64/libssl.so.3", "/etc/pki/tls/openssl.cnf"]
        );
        let up = c[0].upstream.as_ref().unwrap();
        assert_eq!(
            (up.name.as_str(), up.version.as_str()),
            ("openssl", "3.0.7")
        );
        assert_eq!(
            c[0].sources[0].evidence,
            "package 1: openssl-libs-1:3.0.7-27.el9"
        );
    }

    #[test]
    fn corrupt_input_is_an_error_not_a_panic() {
        assert!(
            parse("x", b"not sqlite at all", None)
                .unwrap_err()
                .starts_with("not an SQLite database")
                || parse("x", b"not sqlite at all", None).is_err()
        );
        let mut blob = openssl();
        blob.truncate(40);
        assert!(Header::parse(&blob).is_err());
        assert!(Header::parse(&[0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0]).is_err());
        let db = database(&[blob]);
        assert!(
            parse("x", &db, None)
                .unwrap_err()
                .starts_with("package 1: ")
        );
    }
}

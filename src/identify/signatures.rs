//! Version-string signatures (the `[[product.signature]]` tables of
//! `signatures.toml`) compiled into one Aho-Corasick automaton together with
//! every product's static-copy markers; a regex only confirms each anchor hit.

use super::catalog::{CATALOG, RawProduct, STATIC_MIN, unvendored};
use super::kernel::{self, Post};
use super::tables;
use aho_corasick::{AhoCorasick, AhoCorasickKind, Span, packed};
use regex::bytes::Regex;
use std::collections::{BTreeMap, HashMap};
use std::ops::Range;
use std::sync::LazyLock;

/// What an automaton pattern stands for.
enum Entry {
    /// Index into `Signatures::signatures`.
    Signature(usize),
    /// A static-copy marker: (product index, marker index within the product).
    Marker(usize, usize),
}

struct Signature {
    product: usize,
    confirm: Regex,
    /// `Some(n)`: search `confirm` within `n` bytes either side of the anchor.
    near: Option<usize>,
    /// Fixed version for present-only products.
    version: Option<String>,
    /// Captured text → reported version.
    map: Option<HashMap<String, String>>,
    /// Keep only the highest version this signature finds in one file.
    pick_max: bool,
    /// A named rule that reads the captured release further.
    post: Option<Post>,
}

struct FilenameSignature {
    product: usize,
    pattern: regex::Regex,
    weak: bool,
    map: Option<HashMap<String, String>>,
}

/// The one multi-literal search over every byte.
///
/// Teddy (aho-corasick's SIMD `packed` searcher) runs several times faster
/// than a full DFA over binaries: a DFA for ~100 literals does not stay in
/// cache and walks one byte at a time (measured: ~80 MB/s against ~500 MB/s
/// per core on the accuracy tree, see benches/RESULTS.md). Teddy reports
/// leftmost-first matches only, so overlapping search is rebuilt on top of
/// it: after a match at `p` the search resumes at `p + 1`, and the literals
/// that are a prefix of the reported one (or have it as prefix), the only
/// other ones that can match at `p`, are compared there directly. Every
/// (position, literal) occurrence is found, as with the DFA's overlapping
/// search, which remains the fallback where Teddy is unavailable (no SSSE3 /
/// AVX2 / NEON).
///
/// aho-corasick's packed builder takes at most 128 literals (past that it
/// builds nothing, and the table fell back to the DFA at ~1 GB/s), so the
/// literals are split into groups of [`TEDDY_GROUP`], one searcher each;
/// every group is searched over the region and the occurrences are reported
/// in position order.
enum Finder {
    Packed(Vec<Group>),
    Dfa(AhoCorasick),
}

/// One Teddy searcher over a slice of the literals.
struct Group {
    searcher: packed::Searcher,
    /// Index of this group's first literal in the whole list.
    first: usize,
    literals: Vec<Vec<u8>>,
    /// Per literal of the group: the group's other literals that can match
    /// where it does (group-local indexes).
    siblings: Vec<Vec<usize>>,
}

/// Literals per Teddy searcher: Teddy's fat 256-bit variant stays fast up
/// to about this many (aho-corasick's own heuristic limit is 64).
const TEDDY_GROUP: usize = 64;

impl Group {
    fn build(first: usize, literals: &[String]) -> Option<Group> {
        let searcher = packed::Config::new()
            .match_kind(packed::MatchKind::LeftmostFirst)
            .heuristic_pattern_limits(false)
            .builder()
            .extend(literals)
            .build()?;
        let siblings = literals
            .iter()
            .enumerate()
            .map(|(i, l)| {
                literals
                    .iter()
                    .enumerate()
                    .filter(|&(j, m)| {
                        j != i && (l.starts_with(m.as_str()) || m.starts_with(l.as_str()))
                    })
                    .map(|(j, _)| j)
                    .collect()
            })
            .collect();
        Some(Group {
            searcher,
            first,
            literals: literals.iter().map(|l| l.as_bytes().to_vec()).collect(),
            siblings,
        })
    }

    /// Every (global literal, start, end) occurrence of this group's literals.
    fn each(&self, region: &[u8], found: &mut Vec<(usize, usize, usize)>) {
        let mut at = 0;
        while at < region.len() {
            let Some(m) = self.searcher.find_in(region, Span::from(at..region.len())) else {
                break;
            };
            let literal = m.pattern().as_usize();
            found.push((m.start(), self.first + literal, m.end()));
            for &other in &self.siblings[literal] {
                let bytes = &self.literals[other];
                if region[m.start()..].starts_with(bytes) {
                    found.push((m.start(), self.first + other, m.start() + bytes.len()));
                }
            }
            at = m.start() + 1;
        }
    }
}

impl Finder {
    fn build(literals: &[String], dfa_only: bool) -> Result<Finder, String> {
        if !dfa_only && !literals.is_empty() {
            let groups: Option<Vec<Group>> = literals
                .chunks(TEDDY_GROUP)
                .enumerate()
                .map(|(n, chunk)| Group::build(n * TEDDY_GROUP, chunk))
                .collect();
            if let Some(groups) = groups {
                return Ok(Finder::Packed(groups));
            }
        }
        // A full DFA: a few hundred literals fit in well under a megabyte.
        AhoCorasick::builder()
            .kind(Some(AhoCorasickKind::DFA))
            .build(literals)
            .map(Finder::Dfa)
            .map_err(|e| e.to_string())
    }

    /// Calls `found(literal, start, end)` for every occurrence of every
    /// literal in `region`, overlapping ones included, in position order.
    fn each(&self, region: &[u8], mut found: impl FnMut(usize, usize, usize)) {
        match self {
            Finder::Dfa(automaton) => {
                for m in automaton.find_overlapping_iter(region) {
                    found(m.pattern().as_usize(), m.start(), m.end());
                }
            }
            Finder::Packed(groups) => {
                let mut all = Vec::new();
                for group in groups {
                    group.each(region, &mut all);
                }
                if groups.len() > 1 {
                    all.sort_unstable();
                }
                for (start, literal, end) in all {
                    found(literal, start, end);
                }
            }
        }
    }
}

/// The compiled signature set.
pub struct Signatures {
    finder: Finder,
    /// Per automaton pattern, what it stands for (one literal may serve several).
    entries: Vec<Vec<Entry>>,
    signatures: Vec<Signature>,
    filenames: Vec<FilenameSignature>,
    names: Vec<String>,
    guards: Vec<Vec<Regex>>,
    /// Signatures without an anchor, by product: searched only in files
    /// carrying at least `static_min[product]` of the product's markers.
    gated: Vec<usize>,
    static_min: Vec<usize>,
}

/// How far past an anchor a confirming regex may look.
const WINDOW: usize = 256;

/// How far before a hit guards look.
const GUARD_BEFORE: usize = 64;

/// Slack on either side of a `near` window for the version string itself.
const NEAR_SLACK: usize = 64;

/// Longest evidence text quoted from the bytes.
const EVIDENCE_MAX: usize = 200;

/// Most matches a marker-gated signature takes from one file.
const GATED_MAX: usize = 8;

/// A confirmed version string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    pub product: String,
    pub version: String,
    /// Offset in the file; `None` for a file-name match.
    pub offset: Option<u64>,
    pub text: String,
    /// A file-name fact that may only corroborate (SONAME versions).
    pub weak: bool,
}

/// Everything one pass over a file found.
#[derive(Debug, Default)]
pub struct FileScan {
    pub hits: Vec<Hit>,
    /// Product name → how many distinct markers of it the file carries.
    pub markers: BTreeMap<String, usize>,
}

pub static SIGNATURES: LazyLock<Signatures> = LazyLock::new(|| {
    Signatures::compile(&CATALOG.raw).expect("signatures.toml is valid (unit-tested)")
});

impl Signatures {
    /// Compiles a signature file in the `signatures.toml` format (benches
    /// compare an earlier table with the bundled one).
    pub fn from_toml(text: &str) -> Result<Signatures, String> {
        Signatures::compile(&super::catalog::Catalog::parse(text)?.raw)
    }

    pub(crate) fn compile(products: &[RawProduct]) -> Result<Signatures, String> {
        Signatures::compile_with(products, false)
    }

    /// `dfa_only`: use the DFA even where Teddy is available (tests compare both).
    pub(crate) fn compile_with(
        products: &[RawProduct],
        dfa_only: bool,
    ) -> Result<Signatures, String> {
        let mut literals: Vec<String> = Vec::new();
        let mut entries: Vec<Vec<Entry>> = Vec::new();
        let mut add = |literal: &str, entry: Entry| match literals.iter().position(|l| l == literal)
        {
            Some(i) => entries[i].push(entry),
            None => {
                literals.push(literal.to_string());
                entries.push(vec![entry]);
            }
        };
        let mut signatures = Vec::new();
        let mut filenames = Vec::new();
        let mut guards = Vec::new();
        let mut gated = Vec::new();
        for (index, product) in products.iter().enumerate() {
            let name = &product.name;
            for raw in &product.signature {
                let confirm = match (&raw.anchor, raw.near) {
                    (Some(anchor), None) => {
                        if anchor.is_empty() {
                            return Err(format!("{name}: empty anchor"));
                        }
                        if !literal_prefix(&raw.pattern).starts_with(anchor.as_bytes()) {
                            return Err(format!("{name}: pattern must begin with its anchor"));
                        }
                        Regex::new(&format!("(?-u)\\A(?:{})", raw.pattern))
                    }
                    (Some(anchor), Some(_)) => {
                        if anchor.is_empty() {
                            return Err(format!("{name}: empty anchor"));
                        }
                        Regex::new(&format!("(?-u){}", raw.pattern))
                    }
                    (None, None) => {
                        if product.markers.is_empty() {
                            return Err(format!(
                                "{name}: a signature without an anchor needs the product's markers"
                            ));
                        }
                        Regex::new(&format!("(?-u){}", raw.pattern))
                    }
                    (None, Some(_)) => {
                        return Err(format!("{name}: `near` needs an anchor"));
                    }
                }
                .map_err(|e| format!("{name}: {e}"))?;
                let groups: Vec<&str> = confirm.capture_names().flatten().collect();
                let captures = groups.contains(&"version")
                    || (groups.contains(&"major") && groups.contains(&"minor"));
                if captures == raw.version.is_some() {
                    return Err(format!(
                        "{name}: a pattern needs a `version` group (or `major` and `minor`, \
                         optionally `patch`) or a fixed `version`, not both"
                    ));
                }
                let post = match raw.post.as_deref() {
                    None => None,
                    Some(name) => Some(
                        Post::parse(name)
                            .ok_or_else(|| format!("{name}: unknown post `{name}`"))?,
                    ),
                };
                let pick_max = match raw.pick.as_deref() {
                    None => false,
                    Some("max") => true,
                    Some(other) => return Err(format!("{name}: unknown pick `{other}`")),
                };
                match &raw.anchor {
                    Some(anchor) => add(anchor, Entry::Signature(signatures.len())),
                    None => gated.push(signatures.len()),
                }
                signatures.push(Signature {
                    product: index,
                    confirm,
                    near: raw.near,
                    version: raw.version.clone(),
                    map: version_map(name, raw.map.as_ref(), raw.table.as_deref())?,
                    pick_max,
                    post,
                });
            }
            for (m, marker) in product.markers.iter().enumerate() {
                if marker.is_empty() {
                    return Err(format!("{name}: empty marker"));
                }
                add(marker, Entry::Marker(index, m));
            }
            for raw in &product.filename {
                let pattern =
                    regex::Regex::new(&raw.pattern).map_err(|e| format!("{name}: {e}"))?;
                if !pattern.capture_names().any(|n| n == Some("version")) {
                    return Err(format!("{name}: file-name pattern has no `version` group"));
                }
                filenames.push(FilenameSignature {
                    product: index,
                    pattern,
                    weak: raw.weak,
                    map: version_map(name, raw.map.as_ref(), raw.table.as_deref())?,
                });
            }
            guards.push(
                product
                    .guards
                    .iter()
                    .map(|g| Regex::new(&format!("(?-u){g}")).map_err(|e| format!("{name}: {e}")))
                    .collect::<Result<Vec<_>, _>>()?,
            );
        }
        let finder = Finder::build(&literals, dfa_only)?;
        Ok(Signatures {
            finder,
            entries,
            signatures,
            filenames,
            names: products.iter().map(|p| p.name.clone()).collect(),
            guards,
            gated,
            static_min: products
                .iter()
                .map(|p| p.static_min.unwrap_or(STATIC_MIN))
                .collect(),
        })
    }

    /// Every confirmed version string in `data[range]`, for each range.
    pub fn scan(&self, data: &[u8], ranges: &[Range<usize>]) -> Vec<Hit> {
        self.scan_file(data, ranges).hits
    }

    /// One pass over `data[range]` for each range: version hits and marker counts.
    pub fn scan_file(&self, data: &[u8], ranges: &[Range<usize>]) -> FileScan {
        // (signature index, hit), so that `pick = "max"` can be applied per signature.
        let mut found: Vec<(usize, Hit)> = Vec::new();
        let mut markers: BTreeMap<(usize, usize), ()> = BTreeMap::new();
        for range in ranges {
            let Some(region) = data.get(range.clone()) else {
                continue;
            };
            self.finder.each(region, |literal, start, end| {
                for entry in &self.entries[literal] {
                    match entry {
                        Entry::Marker(product, marker) => {
                            markers.insert((*product, *marker), ());
                        }
                        Entry::Signature(index) => {
                            let sig = &self.signatures[*index];
                            if let Some(mut hit) = self.confirm(sig, region, start, end) {
                                hit.offset = hit.offset.map(|o| o + range.start as u64);
                                found.push((*index, hit));
                            }
                        }
                    }
                }
            });
        }
        let mut per_product: BTreeMap<usize, usize> = BTreeMap::new();
        for (product, _) in markers.keys() {
            *per_product.entry(*product).or_insert(0) += 1;
        }
        // Signatures without an anchor run only where the product's code is.
        for &index in &self.gated {
            let sig = &self.signatures[index];
            if per_product.get(&sig.product).copied().unwrap_or(0) < self.static_min[sig.product] {
                continue;
            }
            for range in ranges {
                let Some(region) = data.get(range.clone()) else {
                    continue;
                };
                for caps in sig.confirm.captures_iter(region).take(GATED_MAX) {
                    let Some(version) = self.version_of(sig, &caps) else {
                        continue;
                    };
                    let start = version_start(&caps);
                    if self.guarded(sig, region, start) {
                        continue;
                    }
                    let mut hit = self.hit(sig, region, start, version);
                    hit.offset = hit.offset.map(|o| o + range.start as u64);
                    found.push((index, hit));
                }
            }
        }
        // `pick = "max"`: one signature, one (the highest) version per file.
        let mut best: HashMap<usize, Vec<u64>> = HashMap::new();
        for (index, hit) in &found {
            if self.signatures[*index].pick_max {
                let key = version_key(&hit.version);
                let entry = best.entry(*index).or_default();
                if key > *entry {
                    *entry = key;
                }
            }
        }
        let hits = found
            .into_iter()
            .filter(|(index, hit)| {
                best.get(index)
                    .is_none_or(|max| &version_key(&hit.version) == max)
            })
            .map(|(_, hit)| hit)
            .collect();
        let mut counts = BTreeMap::new();
        for (product, n) in per_product {
            counts.insert(self.names[product].clone(), n);
        }
        FileScan {
            hits,
            markers: counts,
        }
    }

    /// The version a match reports: the fixed one, the `version` group or
    /// `major`.`minor`.`patch` (numbers, leading zeros dropped: libxml2's
    /// "20914" is 2.9.14; no patch group is .0), looked up in `map` when the
    /// signature has one.
    fn version_of(&self, sig: &Signature, caps: &regex::bytes::Captures) -> Option<String> {
        if let Some(fixed) = &sig.version {
            return Some(fixed.clone());
        }
        let raw = match caps.name("version") {
            Some(v) => String::from_utf8_lossy(v.as_bytes()).into_owned(),
            None => {
                let number = |g: &str| -> Option<u64> {
                    std::str::from_utf8(caps.name(g)?.as_bytes())
                        .ok()?
                        .parse()
                        .ok()
                };
                // A release named by major.minor alone is its .0 release.
                let patch = match caps.name("patch") {
                    Some(_) => number("patch")?,
                    None => 0,
                };
                format!("{}.{}.{patch}", number("major")?, number("minor")?)
            }
        };
        if let Some(post) = sig.post {
            let distro = caps
                .name("upstream")
                .map(|m| String::from_utf8_lossy(m.as_bytes()).into_owned());
            return kernel::version(post, &raw, distro.as_deref());
        }
        match &sig.map {
            Some(map) => map.get(&raw).cloned(),
            None => Some(raw),
        }
    }

    /// True when a guard of the signature's product matches around `start`.
    fn guarded(&self, sig: &Signature, region: &[u8], start: usize) -> bool {
        let guard_lo = start.saturating_sub(GUARD_BEFORE);
        let guard_hi = region.len().min(start + WINDOW);
        self.guards[sig.product]
            .iter()
            .any(|g| g.is_match(&region[guard_lo..guard_hi]))
    }

    /// A hit quoting the whole printable string that starts at `match_start`.
    fn hit(&self, sig: &Signature, region: &[u8], match_start: usize, version: String) -> Hit {
        let quoted = &region[match_start..region.len().min(match_start + EVIDENCE_MAX)];
        let text_len = quoted
            .iter()
            .position(|b| !(0x20..0x7f).contains(b))
            .unwrap_or(quoted.len())
            .max(version.len().min(quoted.len()));
        let mut text = printable(&quoted[..text_len]);
        if sig.map.is_some() {
            text = format!("{text} (= {} {version})", self.names[sig.product]);
        }
        Hit {
            product: self.names[sig.product].clone(),
            version,
            offset: Some(match_start as u64),
            text,
            weak: false,
        }
    }

    /// Confirms one anchor hit at `start..end` of `region`.
    fn confirm(&self, sig: &Signature, region: &[u8], start: usize, end: usize) -> Option<Hit> {
        let (match_start, version) = match sig.near {
            None => {
                let window = &region[start..region.len().min(start + WINDOW)];
                let caps = sig.confirm.captures(window)?;
                (start, self.version_of(sig, &caps)?)
            }
            Some(near) => {
                let lo = start.saturating_sub(near + NEAR_SLACK);
                let hi = region.len().min(end + near + NEAR_SLACK);
                let window = &region[lo..hi];
                let mut best: Option<(usize, usize, String)> = None;
                for caps in sig.confirm.captures_iter(window) {
                    let Some(whole) = caps.get(0) else { continue };
                    let (ms, me) = (lo + whole.start(), lo + whole.end());
                    let distance = if me <= start {
                        start - me
                    } else {
                        ms.saturating_sub(end)
                    };
                    if distance > near {
                        continue;
                    }
                    let Some(version) = self.version_of(sig, &caps) else {
                        continue;
                    };
                    if best.as_ref().is_none_or(|(d, _, _)| distance < *d) {
                        // Quote from the version string, skipping its leading NUL.
                        best = Some((distance, lo + version_start(&caps), version));
                    }
                }
                let (_, quote, version) = best?;
                (quote, version)
            }
        };
        if self.guarded(sig, region, start) {
            return None;
        }
        let mut hit = self.hit(sig, region, match_start, version);
        if sig.near.is_some() {
            hit.text = format!("{} near \"{}\"", hit.text, printable(&region[start..end]));
        }
        Some(hit)
    }

    /// Version facts carried by a file's base name (`libuClibc-1.0.39.so`);
    /// a wheel-vendored name is read as the original (`libz-a1b2c3d4.so.1.2.13`).
    pub fn scan_name(&self, base_name: &str) -> Vec<Hit> {
        let name = unvendored(base_name);
        self.filenames
            .iter()
            .filter_map(|sig| {
                let caps = sig.pattern.captures(name.as_ref())?;
                let raw = caps.name("version")?.as_str();
                let version = match &sig.map {
                    Some(map) => map.get(raw)?.clone(),
                    None => raw.to_string(),
                };
                let text = if sig.map.is_some() {
                    format!("{base_name} (= {} {version})", self.names[sig.product])
                } else {
                    base_name.to_string()
                };
                Some(Hit {
                    product: self.names[sig.product].clone(),
                    version,
                    offset: None,
                    text,
                    weak: sig.weak,
                })
            })
            .collect()
    }

    /// Number of compiled byte signatures.
    pub fn len(&self) -> usize {
        self.signatures.len()
    }

    /// True when no byte signature is compiled.
    pub fn is_empty(&self) -> bool {
        self.signatures.is_empty()
    }
}

/// The literal text a regex pattern begins with, escapes resolved
/// (`\\(`, `\\n`, `\\x00`), up to its first operator.
fn literal_prefix(pattern: &str) -> Vec<u8> {
    let bytes = pattern.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => {
                let Some(&next) = bytes.get(i + 1) else { break };
                match next {
                    b'n' => out.push(b'\n'),
                    b't' => out.push(b'\t'),
                    b'r' => out.push(b'\r'),
                    b'x' => {
                        let Some(value) = pattern
                            .get(i + 2..i + 4)
                            .and_then(|h| u8::from_str_radix(h, 16).ok())
                        else {
                            break;
                        };
                        out.push(value);
                        i += 4;
                        continue;
                    }
                    c if c.is_ascii_punctuation() => out.push(c),
                    _ => break,
                }
                i += 2;
            }
            b'(' | b'[' | b'.' | b'|' | b'^' | b'$' => break,
            b'*' | b'+' | b'?' | b'{' => {
                // The quantified atom is not part of the literal prefix.
                out.pop();
                break;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
}

/// A signature's inline `map` or named `table` (not both), as one lookup.
fn version_map(
    name: &str,
    map: Option<&BTreeMap<String, String>>,
    table: Option<&str>,
) -> Result<Option<HashMap<String, String>>, String> {
    match (map, table) {
        (Some(_), Some(_)) => Err(format!("{name}: `map` or `table`, not both")),
        (Some(map), None) => Ok(Some(map.clone().into_iter().collect())),
        (None, Some(table)) => tables::load(table).map(Some),
        (None, None) => Ok(None),
    }
}

/// Where the version starts in a match: the `version` (or `major`) group,
/// else the whole match.
fn version_start(caps: &regex::bytes::Captures) -> usize {
    caps.name("version")
        .or_else(|| caps.name("major"))
        .or_else(|| caps.get(0))
        .map_or(0, |m| m.start())
}

/// Numeric components of a version for ordering (`3.4.9` < `3.4.30`).
fn version_key(version: &str) -> Vec<u64> {
    version
        .split(|c: char| !c.is_ascii_digit())
        .filter(|p| !p.is_empty())
        .map(|p| p.parse().unwrap_or(u64::MAX))
        .collect()
}

/// Matched bytes as text, control bytes shown as `\xNN`.
fn printable(bytes: &[u8]) -> String {
    let mut out = String::new();
    for &b in bytes {
        if (0x20..0x7f).contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn versions(data: &[u8]) -> Vec<(String, String)> {
        SIGNATURES
            .scan(data, std::slice::from_ref(&(0..data.len())))
            .into_iter()
            .map(|h| (h.product, h.version))
            .collect()
    }

    fn one(product: &str, version: &str) -> Vec<(String, String)> {
        vec![(product.to_string(), version.to_string())]
    }

    /// Bytes written in `signatures.toml` self-tests: text with `\\xNN` escapes.
    fn unescape(text: &str) -> Vec<u8> {
        let bytes = text.as_bytes();
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'\\' && bytes.get(i + 1) == Some(&b'x') {
                let hex = std::str::from_utf8(&bytes[i + 2..i + 4]).unwrap();
                out.push(u8::from_str_radix(hex, 16).unwrap());
                i += 4;
            } else {
                out.push(bytes[i]);
                i += 1;
            }
        }
        out
    }

    /// Every signature of `signatures.toml`, compiled alone, finds the version
    /// in each of its `matches` examples and nothing in its `rejects`
    /// near-misses; a signature without both is a failure.
    #[test]
    fn every_signature_passes_its_own_examples() {
        let mut problems = Vec::new();
        for product in &CATALOG.raw {
            for (n, sig) in product.signature.iter().enumerate() {
                let label = format!("{} signature #{} ({:?})", product.name, n + 1, sig.anchor);
                if sig.matches.is_empty() || sig.rejects.is_empty() {
                    problems.push(format!("{label}: needs `matches` and `rejects`"));
                    continue;
                }
                let mut alone = product.clone();
                alone.signature = vec![sig.clone()];
                alone.filename.clear();
                let compiled = Signatures::compile(&[alone]).unwrap();
                let run = |bytes: &[u8]| -> Vec<String> {
                    compiled
                        .scan(bytes, std::slice::from_ref(&(0..bytes.len())))
                        .into_iter()
                        .map(|h| h.version)
                        .collect()
                };
                for (text, want) in &sig.matches {
                    let got = run(&unescape(text));
                    if got != [want.clone()] {
                        problems.push(format!("{label}: {text:?} gave {got:?}, want {want}"));
                    }
                }
                for text in &sig.rejects {
                    let got = run(&unescape(text));
                    if !got.is_empty() {
                        problems.push(format!("{label}: near-miss {text:?} gave {got:?}"));
                    }
                }
            }
        }
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    }

    #[test]
    fn bundled_signatures_compile() {
        assert!(SIGNATURES.len() >= 60);
    }

    /// Each string as found (with its neighbouring bytes) in a real Debian 12
    /// binary, named in the comment; `tests/accuracy.rs` checks the same
    /// signatures on whole binaries of four architectures.
    #[test]
    fn recognises_real_version_strings() {
        let cases: &[(&[u8], &str, &str)] = &[
            // Debian 12 amd64 avahi-daemon
            (&b"\x00avahi 0.8\x00"[..], "avahi", "0.8"),
            // Debian 12 amd64 libcrypto.so.0
            (&b"e\x00BoringSSL\x00OPENSSL_inter"[..], "boringssl", "unknown"),
            // Debian 12 amd64 busybox
            (&b"\x00BusyBox v1.35.0 (Debian 1:1.35.0-4+deb12u1+b1)\x00"[..], "busybox", "1.35.0"),
            // Debian 12 amd64 bzip2recover
            (&b"\x00bzip2recover 1.0.8: extracts blocks from damaged .bz2 files.\x0a\x00"[..], "bzip2", "1.0.8"),
            // Debian 12 amd64 libcares.so.2.5.1
            (&b"\x00Could not find GetNetworkParams function\x001.18.1\x00\x00\x00\x00\x00\x00\x00\x00\x0001234567"[..], "c-ares", "1.18.1"),
            // Debian 12 amd64 curl
            (&b"\x00curl 7.88.1 (x86_64-pc-linux-gnu) %s\x0a\x00"[..], "curl", "7.88.1"),
            // Debian 12 amd64 dhcpcd
            (&b"\x00dhcpcd-9.4.1 starting\x00"[..], "dhcpcd", "9.4.1"),
            // Debian 12 amd64 dnsmasq
            (&b"\x00dnsmasq-2.90\x00"[..], "dnsmasq", "2.90"),
            // Debian 12 amd64 dbclient
            (&b"\x00dropbear_2022.83\x0d\x0a\x00"[..], "dropbear", "2022.83"),
            // Debian 12 amd64 libext2fs.so.2.4
            (&b"\x00EXT2FS Library version 1.47.0\x00"[..], "e2fsprogs", "1.47.0"),
            // Debian 12 amd64 libexpat.so.1.8.10
            (&b"\x00expat_2.5.0\x00"[..], "expat", "2.5.0"),
            // Debian 12 amd64 libc.so.6
            (&b"\x00GNU C Library (Debian GLIBC 2.36-9+deb12u14) stable release version 2.36.\x0aCopyright (C) 2022 Free Software Foundation, I\x00"[..], "glibc", "2.36"),
            // Debian 12 amd64 libgnutls.so.30.34.3
            (&b"\x00Enabled GnuTLS 3.7.9 logging...\x0a\x00"[..], "gnutls", "3.7.9"),
            // Debian 12 amd64 hostapd_cli
            (&b"\x00hostapd_cli v2.10\x0aCopyright (c) 2004-2022, Jouni Malinen <j@w1.fi> and contributors\x00"[..], "hostapd", "2.10"),
            // Debian 12 amd64 xtables-legacy-multi
            (&b"\x001.8.9 (legacy)\x00append\x00"[..], "iptables", "1.8.9"),
            // Debian 12 amd64 libjson-c.so.5.2.0
            (&b"\x000.16\x00%ld\x00%lu\x00json-c aborts with error:"[..], "json-c", "0.16"),
            // Debian 12 amd64 libcoap-3-gnutls.so.3.0.0
            (&b"\x00libcoap 4.3.1\x00"[..], "libcoap", "4.3.1"),
            // Debian 12 amd64 libevent-2.1.so.7.0.1
            (&b"\x002.1.12-stable\x00EV_TIMEOU"[..], "libevent", "2.1.12"),
            // Debian 12 amd64 libgcrypt.so.20.4.1
            (&b"\x00This is Libgcrypt 1.10.1 - The GNU Crypto Library\x0aCopyright (C) 2012-2022 g10 Code GmbH\x0aCopyright (C) 2013-2022 Jussi Ki\x00"[..], "libgcrypt", "1.10.1"),
            // Debian 12 amd64 libjpeg.so.62.3.0
            (&b"\x00libjpeg-turbo version 2.1.5 (build 20230203)\x00"[..], "libjpeg-turbo", "2.1.5"),
            // Debian 12 amd64 libmicrohttpd.so.12.60.0
            (&b"\x00MHD-worker\x000.9.75\x00\x00\x00\x00\x00\x00\x00Resumed co"[..], "libmicrohttpd", "0.9.75"),
            // Debian 12 amd64 libpcap.so.1.10.3
            (&b"\x00libpcap version 1.10.3 (with TPACKET_V3)\x00"[..], "libpcap", "1.10.3"),
            // Debian 12 amd64 libpng16.so.16.39.0
            (&b"\x00libpng version 1.6.39\x0aCopyright (c) 2018-2022 Cosmin Truta\x0aCopyright (c) 1998-2002,2004,2006-2018 Glenn Randers-Pehrson\x0a\x00"[..], "libpng", "1.6.39"),
            // Debian 12 amd64 libssh.so.4.9.6
            (&b"\x00libssh_0.10.6\x00"[..], "libssh", "0.10.6"),
            // Debian 12 amd64 libssh2.so.1.0.1
            (&b"\x00libssh2_1.10.0\x00"[..], "libssh2", "1.10.0"),
            // Debian 12 amd64 libtiff.so.6.0.0
            (&b"\x00LIBTIFF, Version 4.5.0\x0aCopyright (c) 1988-1996 Sam Leffler\x0aCopyright (c) 1991-1996 Silicon Graphics, Inc.\x00"[..], "libtiff", "4.5.0"),
            // Debian 12 amd64 libupnp.so.13.0.0
            (&b"\x00Portable SDK for UPnP devices/1.8.4\x0d\x0a\x00"[..], "libupnp", "1.8.4"),
            // Debian 12 amd64 lighttpd
            (&b"\x00lighttpd/1.4.69\x00"[..], "lighttpd", "1.4.69"),
            // Debian 12 amd64 liblua5.3-c++.so.0.0.0
            (&b"\x00$LuaVersion: Lua 5.3.6  Copyright (C) 1994-2020 Lua.org, PUC-Rio $$LuaAuthors: R. Ierusalimschy, L. H. de Figueiredo, W.\x00"[..], "lua", "5.3.6"),
            // Debian 12 amd64 libmbedcrypto.so.2.28.3
            (&b"\x00mbed TLS 2.28.3\x00"[..], "mbedtls", "2.28.3"),
            // Debian 12 amd64 mini_httpd
            (&b"\x00mini_httpd/1.30 26Oct2018\x00"[..], "mini_httpd", "1.30"),
            // Debian 12 amd64 miniupnpd
            (&b"\x00miniupnpd 2.3.1 Dec 21 2022\x00"[..], "miniupnpd", "2.3.1"),
            // Debian 12 amd64 nginx
            (&b"\x00nginx/1.22.1\x0a\x00"[..], "nginx", "1.22.1"),
            // Debian 12 amd64 libnode.so.108
            (&b"\x00node.js/v18.20.4\x00"[..], "node.js", "18.20.4"),
            // Debian 12 amd64 ssh
            (&b"\x00OpenSSH_9.2p1 Debian-2+deb12u10\x00"[..], "openssh", "9.2p1"),
            // Debian 12 amd64 libcrypto.so.3
            (&b"\x00OpenSSL 3.0.22 25 Aug 2026\x00"[..], "openssl", "3.0.22"),
            // Debian 12 amd64 openvpn
            (&b"\x00OpenVPN 2.6.14 x86_64-pc-linux-gnu [SSL (OpenSSL)] [LZO] [LZ4] [EPOLL] [PKCS11] [MH/PKTINFO] [AEAD] [DCO]\x00"[..], "openvpn", "2.6.14"),
            // Debian 12 amd64 php8.2
            (&b"\x00X-Powered-By: PHP/8.2.36\x00"[..], "php", "8.2.36"),
            // Debian 12 amd64 pppd
            (&b"\x00/pppd/2.4.9\x00"[..], "ppp", "2.4.9"),
            // Debian 12 amd64 proftpd
            (&b"\x00ProFTPD Version 1.3.8\x00"[..], "proftpd", "1.3.8"),
            // Debian 12 amd64 pure-ftpd
            (&b"\x00pure-ftpd v1.0.50 [privsep]\x0a\x00"[..], "pure-ftpd", "1.0.50"),
            // Debian 12 amd64 libpython3.11.so.1.0
            (&b"\x003.11.2\x00%.80s (%.80s) %.80s\x00"[..], "python", "3.11.2"),
            // Debian 12 amd64 dumpmscat
            (&b"\x00SAMBA_4.17.12_DEBIAN_SAMBA4\x00"[..], "samba", "4.17.12"),
            // Debian 12 amd64 charon
            (&b"\x00(strongSwan 5.9.8, %s %s, %s)\x00"[..], "strongswan", "5.9.8"),
            // Debian 12 amd64 u-boot.bin
            (&b"\x00U-Boot 2023.01+dfsg-2+deb12u3 (Jun 22 2026 - 08:38:07 +0000)\x00"[..], "u-boot", "2023.01"),
            // Debian 12 amd64 dmesg
            (&b"\x00util-linux 2.38.1\x00"[..], "util-linux", "2.38.1"),
            // Debian 12 amd64 vsftpd
            (&b"\x00vsFTPd 3.0.3)\x00"[..], "vsftpd", "3.0.3"),
            // Debian 12 amd64 wg
            (&b"\x001.0.20210914\x00-h\x00--help\x00Invalid subcommand: `%s'\x0a"[..], "wireguard-tools", "1.0.20210914"),
            // Debian 12 amd64 libwolfssl.so.35.3.0
            (&b"\x00wolfSSL 5.5.4\x00"[..], "wolfssl", "5.5.4"),
            // Debian 12 amd64 lzmainfo
            (&b"\x00 (XZ Utils) 5.4.1\x00"[..], "xz", "5.4.1"),
            // Debian 12 amd64 libnode.so.108
            (&b"\x00deflate 1.2.11 Copyright 1995-2017 Jean-loup Gailly and Mark Adler \x00"[..], "zlib", "1.2.11"),
            // Debian 12 amd64 zstd
            (&b"\x00v1.5.4\x00Zstandard CLI\x00Ya"[..], "zstd", "1.5.4"),

            // Debian 12 armhf libbz2.so.1.0.4 (string order differs from amd64)
            (&b"b\x00\x00\x001.0.8, 13-Jul-2019\x00\x00\n\nbzip2/libbzip2: internal error"[..], "bzip2", "1.0.8"),
            // Debian 12 armhf libcares.so.2.5.1
            (&b"\x00DNS query cancelled\x001.18.1\x00\x000123456789abcdef\x00"[..], "c-ares", "1.18.1"),
            // Debian 12 armhf libmicrohttpd.so.12.60.0
            (&b"\x00Failed to create pool thread: %s\n\x00\x00\x000.9.75\x00\x00"[..], "libmicrohttpd", "0.9.75"),
            // Debian 12 amd64 wpa_cli
            (&b"\x00wpa_cli v2.10\nCopyright (c) 2004-2022, Jouni Malinen <j@w1.fi> and contributors\x00"[..], "wpa_supplicant", "2.10"),
            // Debian 12 amd64 nft
            (&b"--file\x00Lester Gooch #5\x001.0.6\x00nftables\x00%s v%s (%s)\n\x00"[..], "nftables", "1.0.6"),
            // Debian 12 amd64 pppoe
            (&b"\x00eth0\x003.15\x00%.256s: Session %d: %.256s\x00"[..], "rp-pppoe", "3.15"),
            // Debian 12 amd64 mosquitto
            (&b"\x00Error: Invalid bridge remapping.\x002.0.11\x00mosquitto version %s\n\n\x00"[..], "mosquitto", "2.0.11"),
            // Debian 12 amd64 chronyd
            (&b"\x00/etc/chrony/chrony.conf\x00--help\x00--version\x004.3\x0046df:F:hl:L:mnpP:qQrRst:u:Uvx\x00"[..], "chrony", "4.3"),
            // Debian 12 armhf chronyd
            (&b"+IPV6 -DEBUG\x004.3\x00chronyd (chrony) version %s (%s)\n\x00"[..], "chrony", "4.3"),
            // Debian 12 amd64 tcpdump
            (&b"\x00%s version 4.99.3\n\x00SMI-library: %s\n\x00"[..], "tcpdump", "4.99.3"),
            // Debian 12 amd64 e2fsck
            (&b"\x00/usr/share/locale\x001.47.0\x00E2FSCK_FORCE_INTERACTIVE\x00"[..], "e2fsprogs", "1.47.0"),
            // Debian 12 amd64 libxml2.so.2.9.14 (xmlParserVersion)
            (&b"\xf4\xc7\xf6\xff::20914\x00\x00\x00\x00\x00xmlGetGlobalState: out of memory\n\x00I"[..], "libxml2", "2.9.14"),
            // Debian 12 arm64 libxml2.so.2.9.14
            (&b"$\x00i\x00\x00\x00\x0020914\x00\x00\x00xmlGetGlobalState: out of memory\n\x00"[..], "libxml2", "2.9.14"),
            // Debian 12 amd64 libxslt.so.1.1.35 (xsltEngineVersion)
            (&b"\x00xml-stylesheet\x00text/xml\x00text/xsl\x0010135\x00\x00\x00\x00\x00\x00\x00http://www.w3.org/1999/XSL/Transform\x00"[..], "libxslt", "1.1.35"),
            // Debian 12 armhf libxslt.so.1.1.35
            (&b"\x00xsltLoadStylesheetPI : found PI href=%s\n\x00\x00\x00\x0010135\x00\x00\x00\xe2\x80\xb0\x00"[..], "libxslt", "1.1.35"),
            // Debian 12 amd64 libstdc++.so.6.0.30 (.dynstr): the highest symbol version counts
            (&b"\x00GLIBCXX_3.4.9\x00GLIBCXX_3.4.29\x00GLIBCXX_3.4.30\x00GLIBCXX_3.4.3\x00CXXABI_1.3.13\x00"[..], "gcc", "12.1.0"),
            // OpenWrt-style module: the upstream release itself
            (&b"\x00vermagic=5.15.150 SMP mod_unload MIPS32_R2 32BIT \x00"[..], "linux", "5.15.150"),
            // Earlier releases and other builds of the same strings.
            (&b"\0OpenSSL 1.0.2k  26 Jan 2017\0"[..], "openssl", "1.0.2k"),
            (&b"\0OpenSSL 1.0.2u-fips  20 Dec 2019\0"[..], "openssl", "1.0.2u"),
            (&b"\0Mbed TLS 3.6.0\0"[..], "mbedtls", "3.6.0"),
            (&b"uClibc-ng 1.0.39\0"[..], "uclibc-ng", "1.0.39"),
            (&b"Linux version 4.14.180 (builder@buildhost) (gcc version 7.5.0)"[..], "linux", "4.14.180"),
            (&b"libcurl/7.88.1 OpenSSL/3.0.17"[..], "curl", "7.88.1"),
        ];
        for (bytes, product, version) in cases {
            // Two signatures of one product may read the same string.
            let mut got = versions(bytes);
            got.dedup();
            assert_eq!(
                got,
                one(product, version),
                "{}",
                String::from_utf8_lossy(bytes)
            );
        }
    }

    /// Teddy with rebuilt overlapping search finds what the DFA finds,
    /// overlapping literals (`libcurl/` holds `curl/`) and repeats included.
    #[test]
    fn teddy_and_dfa_find_the_same() {
        let dfa = Signatures::compile_with(&CATALOG.raw, true).unwrap();
        assert!(matches!(dfa.finder, Finder::Dfa(_)));
        let mut data = Vec::new();
        for (i, case) in [
            &b"\x00libcurl/7.88.1\x00curl/7.88.1\x00"[..],
            b"TLSv1 part of OpenSSL 1.0.2k  26 Jan 2017\x00OpenSSL 1.0.2k  26 Jan 2017\x00",
            b"\x00GLIBCXX_3.4.29\x00GLIBCXX_3.4.30\x00",
            b"wrong final block length\x00bad decrypt\x00crypto/evp/evp_enc.c\x00",
            b"\x00BusyBox v1.35.0 (x)\x00BusyBox v1.35.0 (x)\x00",
        ]
        .iter()
        .enumerate()
        {
            data.extend_from_slice(case);
            data.extend(std::iter::repeat_n(i as u8 + 0x80, 40));
        }
        let scan = |s: &Signatures| {
            let r = s.scan_file(&data, std::slice::from_ref(&(0..data.len())));
            let mut hits: Vec<(String, String, Option<u64>)> = r
                .hits
                .into_iter()
                .map(|h| (h.product, h.version, h.offset))
                .collect();
            hits.sort();
            (hits, r.markers)
        };
        let (hits, markers) = scan(&SIGNATURES);
        assert_eq!((hits.clone(), markers.clone()), scan(&dfa));
        assert_eq!(hits.len(), 9, "{hits:?}");
        assert_eq!(markers.get("openssl"), Some(&3));
    }

    #[test]
    fn prose_mentions_are_not_versions() {
        assert!(versions(b"requires OpenSSL 1.1.1 or later").is_empty());
        assert!(versions(b"Linux version %s (%s)").is_empty());
        assert!(versions(b"BusyBox v%s (%s)").is_empty());
    }

    #[test]
    fn only_listed_ranges_are_scanned() {
        let data = b"BusyBox v1.2.3 (x) .... BusyBox v1.35.0 (y)";
        let hits = SIGNATURES.scan(data, std::slice::from_ref(&(20..data.len())));
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].version, "1.35.0");
        assert_eq!(hits[0].offset, Some(24));
    }

    #[test]
    fn libressl_two_and_three_part_versions() {
        // LibreSSL 2.0.0 built from its release source (amd64 libcrypto.so.29,
        // libssl.so.26), and the later three-part form.
        let libressl =
            b"\x00ec_pre_comp\x00fips2\x00LibreSSL 2.0\x00built on: date not available\x00";
        assert_eq!(versions(libressl), one("libressl", "2.0.0"));
        assert_eq!(
            versions(b"TLSv1.1\x00LibreSSL 3.8.2\x00\x00"),
            one("libressl", "3.8.2")
        );
        assert!(versions(b"built with LibreSSL 3.8 or later.").is_empty());
    }

    #[test]
    fn marker_gated_versions_need_the_products_code() {
        // Debian 12 amd64 libpcre.so.3.13.3: error texts and "8.39 2016-06-14".
        let mut pcre = b"\x00unrecognized character after (? or (?-\x00POSIX named classes are \
            supported only within a class\x00conditional group contains more than two branches\x00"
            .to_vec();
        pcre.extend_from_slice(b"\xfe\xff\x9c\x7f\xfe\xff8.39 2016-06-14\x00\xbc\x83\xfe\xff");
        assert_eq!(versions(&pcre), one("pcre", "8.39"));
        // The same version-and-date shape without pcre's code is nothing.
        assert!(versions(b"\x00\xff8.39 2016-06-14\x00").is_empty());
        // Debian 12 arm64 libpcre2-8.so.0.11.2
        let pcre2 = b"\x00NO_DOTSTAR_ANCHOR)\x00LIMIT_RECURSION=\x00BSR_UNICODE)\x00\x00\x00\x00\
            10.42 2022-12-11\x00\x00non_atomic_positive_lookahead\x00";
        assert_eq!(versions(pcre2), one("pcre2", "10.42"));
        // Debian 12 amd64 musl 1.2.3-1, lib/x86_64-linux-musl/libc.so
        let musl = b"\x00musl libc (x86_64)\nVersion %s\nDynamic Program Loader\nUsage: \
            %s [options]\x00Error loading shared library %s: %m (needed by %s)\x00\
            /proc/self/fd/\x001.2.3\x00Unsupported request %d\x00";
        assert_eq!(versions(musl), one("musl", "1.2.3"));
        assert!(versions(b"\x00/proc/self/fd/\x001.2.3\x00Unsupported").is_empty());
        // Debian 13 arm64 optee-os 4.5.0-2, k3-am62x/tee-raw.bin (built
        // outside git, so TEE_IMPL_VERSION is "Unknown_4.5").
        let optee = b"\x00OP-TEE version: %s\x00gpd.tee.apiversion\x00\
            gpd.tee.trustedos.manufacturer\x00LINARO\x00Unknown_4.5\x00\x01OPTEE\x00\
            \xfc5Unknown_4.5 (gcc version 14.2.0 (Debian 14.2.0-19)) #1 Fri Jul 11 09:44:01 \
            UTC 2025 aarch64\x00crypto_a";
        assert_eq!(versions(optee), one("op-tee", "4.5.0"));
        // A git build's `git describe` (the shape of optee_os's link.mk).
        let git = b"\x00OP-TEE version: %s\x00gpd.tee.apiversion\x00FW_IMPL_UNDEF\x00\
            3.19.0-dev (gcc version 10.2.1 20201103) #8 Thu Dec 23 15:55:20 UTC 2021 arm\x00";
        assert_eq!(versions(git), one("op-tee", "3.19.0"));
        // A kernel banner has the same compiler part but not OP-TEE's code.
        assert!(
            versions(b"\x003.19.0 (gcc version 10.2.1) #8 Thu Dec 23 15:55:20 UTC 2021 arm\x00")
                .is_empty()
        );
    }

    #[test]
    fn shared_object_numbers_map_to_releases() {
        let freetype = SIGNATURES.scan_name("libfreetype.so.6.18.3");
        assert_eq!(freetype.len(), 1);
        assert_eq!(freetype[0].version, "2.12.1");
        assert!(!freetype[0].weak);
        // Pillow 10.4.0's vendored copy (auditwheel adds a hash to the name).
        assert_eq!(
            SIGNATURES.scan_name("libfreetype-e3eca772.so.6.20.1")[0].version,
            "2.13.2"
        );
        // A number missing from FreeType's table is no version at all.
        assert!(SIGNATURES.scan_name("libfreetype.so.6.99.0").is_empty());
    }

    #[test]
    fn file_names_carry_uclibc_versions() {
        let hits = SIGNATURES.scan_name("libuClibc-1.0.39.so");
        assert_eq!(hits[0].version, "1.0.39");
        assert!(SIGNATURES.scan_name("libc.so.6").is_empty());
    }
}

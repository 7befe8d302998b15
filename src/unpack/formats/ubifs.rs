//! UBIFS, from the bytes of one UBI volume (or a `mkfs.ubifs` image). Every
//! node starts with a 24-byte little-endian common header (magic
//! `0x06101831`, CRC32, sequence number, length, type). The superblock node is
//! at LEB 0, master nodes in LEBs 1 and 2 (the one with the highest sequence
//! number is current); the master node points to the root of the index, a
//! B-tree whose level-0 branches point to the leaf nodes: inodes, directory
//! entries and 4 KiB data blocks (none, LZO, raw deflate or zstd).
//! Layout from the kernel's `fs/ubifs/ubifs-media.h`.
//!
//! The index is walked with every node visited once and child levels strictly
//! decreasing, so a loop or a cross-link cannot make the walk run forever.
//! Nodes written since the last commit are not in the index yet: the log
//! names the journal's buds, whose newer nodes are replayed on top.
//! When the index cannot be read whole, every LEB of the main area is scanned
//! for nodes instead and the newest copy of each (highest sequence number)
//! wins; the layer says which way it was read.

use super::ubi::crc;
use super::{Entry, Extracted, Format, Notes, Problem, Rejection, le16, le32, le64};
use crate::unpack::limits::Budget;
use crate::unpack::tree::{EntryKind, Meta};
use std::collections::{HashMap, HashSet};

pub struct Ubifs;

const MAGIC: [u8; 4] = 0x0610_1831u32.to_le_bytes();
const CH_LEN: usize = 24;
const INO_NODE: u8 = 0;
const DATA_NODE: u8 = 1;
const DENT_NODE: u8 = 2;
const XENT_NODE: u8 = 3;
const TRUN_NODE: u8 = 4;
const SB_NODE: u8 = 6;
const MST_NODE: u8 = 7;
const REF_NODE: u8 = 8;
const IDX_NODE: u8 = 9;
const CS_NODE: u8 = 10;
/// The first log LEB (after the superblock and the two master LEBs).
const LOG_FIRST: usize = 3;
const SB_NODE_LEN: usize = 4096;
const MST_NODE_LEN: usize = 512;
const INO_NODE_LEN: usize = 160;
const DENT_NODE_LEN: usize = 56;
const DATA_NODE_LEN: usize = 48;
const TRUN_NODE_LEN: usize = 56;
const IDX_NODE_LEN: usize = 28;
/// Key bytes stored in index branches (the "simple" key format).
const KEY_LEN: usize = 8;
const BRANCH_LEN: usize = 12 + KEY_LEN;
const BLOCK_SIZE: usize = 4096;
const ROOT_INO: u32 = 1;
const MIN_LEB_SIZE: usize = 15 * 1024;
const MAX_LEB_SIZE: usize = 2 << 20;
/// `UBIFS_MAX_LEVELS`.
const MAX_LEVELS: u16 = 512;
const PATH_MAX: usize = 4096;
/// Superblock flags.
const FLG_ENCRYPTION: u32 = 0x10;
const FLG_AUTHENTICATION: u32 = 0x20;
/// Inode flag of an fscrypt-encrypted inode.
const CRYPT_FL: u32 = 0x40;
const S_IFMT: u32 = 0o170000;
const S_IFREG: u32 = 0o100000;
const S_IFDIR: u32 = 0o040000;
const S_IFLNK: u32 = 0o120000;

/// A node key in the simple format: inode number, then type (top 3 bits)
/// and name hash or block number. Ordered as the kernel's `keys_cmp`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct Key {
    inum: u32,
    rest: u32,
}

impl Key {
    fn read(bytes: &[u8], at: usize) -> Key {
        Key {
            inum: le32(bytes, at).unwrap_or(0),
            rest: le32(bytes, at + 4).unwrap_or(0),
        }
    }

    fn block(self) -> u32 {
        self.rest & 0x1fff_ffff
    }
}

/// One node whose header and CRC checked out.
#[derive(Debug, Clone, Copy)]
struct Node<'a> {
    at: usize,
    sqnum: u64,
    kind: u8,
    bytes: &'a [u8],
}

impl Node<'_> {
    fn key(&self) -> Key {
        Key::read(self.bytes, CH_LEN)
    }
}

/// The parameters read from the superblock.
struct Geometry {
    leb_size: usize,
    leb_cnt: usize,
    log_lebs: usize,
    main_first: usize,
    fanout: usize,
}

impl Geometry {
    fn place(&self, at: usize) -> String {
        format!("LEB {}:{:#x}", at / self.leb_size, at % self.leb_size)
    }
}

/// Reads the node at `at`; a node never crosses its LEB.
fn node_at(vol: &[u8], at: usize, leb_size: usize) -> Result<Node<'_>, String> {
    let head = vol
        .get(at..)
        .and_then(|d| d.get(..CH_LEN))
        .ok_or("past the end of the volume")?;
    if head[..4] != MAGIC {
        return Err("no node magic".into());
    }
    let len = le32(head, 16).unwrap_or(0) as usize;
    if len < CH_LEN || len > leb_size - at % leb_size {
        return Err(format!("node length {len} does not fit its LEB"));
    }
    let bytes = vol
        .get(at..at + len)
        .ok_or_else(|| format!("node of {len} bytes is truncated"))?;
    if le32(bytes, 4) != Some(crc(&bytes[8..])) {
        return Err("node CRC mismatch".into());
    }
    Ok(Node {
        at,
        sqnum: le64(bytes, 8).unwrap_or(0),
        kind: bytes[20],
        bytes,
    })
}

fn compression_name(c: u16) -> &'static str {
    match c {
        0 => "none",
        1 => "lzo",
        2 => "zlib",
        3 => "zstd",
        _ => "unknown",
    }
}

impl Format for Ubifs {
    fn name(&self) -> &'static str {
        "ubifs"
    }

    fn magics(&self) -> &'static [&'static [u8]] {
        &[&MAGIC]
    }

    fn extract(&self, data: &[u8], budget: &mut Budget) -> Result<Extracted, Rejection> {
        // Every node has the magic: only a superblock starts a file system.
        let head = data.get(..CH_LEN).ok_or(Rejection::NotThisFormat)?;
        if head[20] != SB_NODE || le32(head, 16) != Some(SB_NODE_LEN as u32) {
            return Err(Rejection::NotThisFormat);
        }
        let sb = node_at(data, 0, SB_NODE_LEN)
            .map_err(|e| Rejection::Corrupt(format!("UBIFS superblock: {e}")))?
            .bytes;
        let field = |at: usize| le32(sb, at).unwrap_or(0) as usize;
        let (key_hash, key_fmt, flags) = (sb[26], sb[27], field(28) as u32);
        let (min_io, leb_size, leb_cnt) = (field(32), field(36), field(40));
        let (log_lebs, lpt_lebs, orph_lebs) = (field(56), field(60), field(64));
        let (fanout, fmt_version) = (field(72), field(80));
        let default_compr = le16(sb, 84).unwrap_or(0);
        let mut faults = Vec::new();
        if !(MIN_LEB_SIZE..=MAX_LEB_SIZE).contains(&leb_size) || leb_size % 8 != 0 {
            faults.push(format!("LEB size {leb_size} is out of range"));
        }
        if !min_io.is_power_of_two() || min_io > leb_size {
            faults.push(format!(
                "min I/O size {min_io} is not a power of two within a LEB"
            ));
        }
        if key_fmt != 0 || key_hash > 1 {
            faults.push(format!("unknown key format {key_fmt} / hash {key_hash}"));
        }
        if !(1..=5).contains(&fmt_version) {
            faults.push(format!("unknown format version {fmt_version}"));
        }
        if !(3..=4096).contains(&fanout) {
            faults.push(format!("fanout {fanout} is out of range"));
        }
        let main_first = LOG_FIRST
            .saturating_add(log_lebs)
            .saturating_add(lpt_lebs)
            .saturating_add(orph_lebs);
        if main_first >= leb_cnt {
            faults.push(format!(
                "{leb_cnt} LEBs leave no main area after {main_first} reserved ones"
            ));
        }
        if !faults.is_empty() {
            return Err(Rejection::Corrupt(format!(
                "UBIFS superblock: {}",
                faults.join("; ")
            )));
        }
        if flags & FLG_AUTHENTICATION != 0 {
            return Err(Rejection::Corrupt(
                "authenticated UBIFS (hashed index branches) is not supported yet".into(),
            ));
        }
        let geo = Geometry {
            leb_size,
            leb_cnt,
            log_lebs,
            main_first,
            fanout,
        };
        // A volume shorter than the file system reads as erased flash.
        let size = leb_cnt.saturating_mul(leb_size).min(data.len());
        let vol = &data[..size];
        let mut notes = Notes::default();
        if flags & FLG_ENCRYPTION != 0 {
            notes.push(Problem::Error(
                "UBIFS has fscrypt encryption enabled: encrypted files are listed without contents"
                    .into(),
            ));
        }

        let walked = match master(vol, &geo) {
            Some(mst) => walk_index(vol, &geo, mst, &mut notes).map(|leaves| (leaves, mst)),
            None => Err("no valid master node in LEBs 1 and 2".to_string()),
        };
        let (leaves, how) = match walked {
            Ok((mut leaves, mst)) => {
                let replayed = journal(vol, &geo, mst, &mut notes);
                let how = match replayed.len() {
                    0 => "read through the index".to_string(),
                    1 => "read through the index and 1 journal node".to_string(),
                    n => format!("read through the index and {n} journal nodes"),
                };
                leaves.extend(replayed);
                (leaves, how)
            }
            Err(e) => {
                notes.push(Problem::Error(format!(
                    "index unreadable ({e}); files recovered by a linear scan of every node, newest copy wins (deleted files may reappear)"
                )));
                (
                    scan_nodes(vol, &geo),
                    "read by a linear node scan".to_string(),
                )
            }
        };
        let entries = build_tree(&leaves, &geo, budget, &mut notes);
        Ok(Extracted {
            size: size as u64,
            entries,
            filesystem: true,
            scanned_in_place: false,
            detail: Some(format!(
                "UBIFS format {fmt_version}, LEB size {leb_size}, {leb_cnt} LEBs, default compression {}, {how}",
                compression_name(default_compr)
            )),
            notes: {
                let mut list = Vec::new();
                notes.finish("ubifs", &mut list);
                list
            },
        })
    }
}

/// The newest master node of LEBs 1 and 2.
fn master<'a>(vol: &'a [u8], geo: &Geometry) -> Option<Node<'a>> {
    let mut best: Option<Node> = None;
    for lnum in 1..=2 {
        let start = lnum * geo.leb_size;
        for at in (start..start + geo.leb_size).step_by(8) {
            if vol.get(at..at + 4) != Some(&MAGIC[..]) {
                continue;
            }
            if let Ok(node) = node_at(vol, at, geo.leb_size)
                && node.kind == MST_NODE
                && node.bytes.len() >= MST_NODE_LEN
                && best.is_none_or(|b| node.sqnum > b.sqnum)
            {
                best = Some(node);
            }
        }
    }
    best
}

/// One branch still to visit: where it points and the key range its subtree
/// must stay within.
struct Pending {
    lnum: u32,
    offs: u32,
    len: u32,
    key: Key,
    /// Level of the index node to find there (`None` below level 0: a leaf).
    level: Option<u16>,
    upper: Option<Key>,
}

/// Walks the index from the master node's root; the first problem ends the
/// walk (the caller then scans every node instead).
fn walk_index<'a>(
    vol: &'a [u8],
    geo: &Geometry,
    mst: Node,
    notes: &mut Notes,
) -> Result<Vec<Node<'a>>, String> {
    let m = mst.bytes;
    let root = Pending {
        lnum: le32(m, 48).unwrap_or(0),
        offs: le32(m, 52).unwrap_or(0),
        len: le32(m, 56).unwrap_or(0),
        key: Key { inum: 0, rest: 0 },
        level: None,
        upper: None,
    };
    let mut stack = vec![root];
    // A real index has fewer branches than the volume has room for nodes;
    // overlapping crafted index nodes could otherwise push far more.
    let mut budget = vol.len() / CH_LEN;
    let mut seen: HashSet<(u32, u32)> = HashSet::new();
    let mut leaves = Vec::new();
    let mut first = true;
    while let Some(p) = stack.pop() {
        let (lnum, offs) = (p.lnum as usize, p.offs as usize);
        let at = lnum * geo.leb_size + offs;
        let place = format!("LEB {lnum}:{offs:#x}");
        if lnum < geo.main_first || lnum >= geo.leb_cnt || offs >= geo.leb_size || offs % 8 != 0 {
            return Err(format!("index points outside the main area ({place})"));
        }
        if !seen.insert((p.lnum, p.offs)) {
            return Err(format!("index loop: {place} is reached twice"));
        }
        let node = node_at(vol, at, geo.leb_size).map_err(|e| format!("{place}: {e}"))?;
        if node.bytes.len() != p.len as usize {
            return Err(format!(
                "{place}: node is {} bytes, its branch says {}",
                node.bytes.len(),
                p.len
            ));
        }
        let Some(level) = p.level.or(first.then_some(u16::MAX)) else {
            // A leaf: its key is the branch's key.
            if !matches!(node.kind, INO_NODE | DATA_NODE | DENT_NODE | XENT_NODE) {
                return Err(format!("{place}: node type {} is not a leaf", node.kind));
            }
            if node.bytes.len() < CH_LEN + KEY_LEN || node.key() != p.key {
                return Err(format!("{place}: leaf key does not match its index branch"));
            }
            leaves.push(node);
            continue;
        };
        if node.kind != IDX_NODE || node.bytes.len() < IDX_NODE_LEN {
            return Err(format!("{place}: not an index node (type {})", node.kind));
        }
        let b = node.bytes;
        let (count, node_level) = (le16(b, 24).unwrap_or(0), le16(b, 26).unwrap_or(0));
        let branch_len = BRANCH_LEN;
        if first {
            if node_level >= MAX_LEVELS {
                return Err(format!(
                    "{place}: index root level {node_level} is too deep"
                ));
            }
        } else if node_level != level {
            return Err(format!(
                "{place}: index node level {node_level} where {level} was expected"
            ));
        }
        first = false;
        let count = usize::from(count);
        if count == 0 || count > geo.fanout || IDX_NODE_LEN + count * branch_len > b.len() {
            return Err(format!(
                "{place}: {count} branches do not fit the index node"
            ));
        }
        let branch = |i: usize| IDX_NODE_LEN + i * branch_len;
        let keys: Vec<Key> = (0..count).map(|i| Key::read(b, branch(i) + 12)).collect();
        // Keys ascend (equal keys are name-hash collisions) and stay within
        // the range the parent's branch gave this subtree.
        let in_range = keys.windows(2).all(|w| w[0] <= w[1])
            && keys[0] >= p.key
            && p.upper.is_none_or(|u| keys[count - 1] <= u);
        if !in_range {
            return Err(format!(
                "{place}: index keys out of order or outside their parent's range"
            ));
        }
        budget = budget
            .checked_sub(count)
            .ok_or("the index has more branches than the volume has room for nodes")?;
        // Pushed in reverse so that leaves come out in key order.
        for i in (0..count).rev() {
            let at = branch(i);
            stack.push(Pending {
                lnum: le32(b, at).unwrap_or(0),
                offs: le32(b, at + 4).unwrap_or(0),
                len: le32(b, at + 8).unwrap_or(0),
                key: keys[i],
                level: node_level.checked_sub(1),
                upper: keys.get(i + 1).copied().or(p.upper),
            });
        }
    }
    if leaves.is_empty() {
        notes.push(Problem::Error("UBIFS index holds no nodes".into()));
    }
    Ok(leaves)
}

/// Every valid node of LEB `lnum` from `offs` on (nodes are 8-byte aligned).
fn leb_nodes<'a>(vol: &'a [u8], geo: &Geometry, lnum: usize, offs: usize) -> Vec<Node<'a>> {
    let mut nodes = Vec::new();
    let start = lnum * geo.leb_size;
    let end = (start + geo.leb_size).min(vol.len());
    let mut at = start + offs.next_multiple_of(8);
    while at + CH_LEN <= end {
        if vol[at..at + 4] != MAGIC {
            at += 8;
            continue;
        }
        match node_at(vol, at, geo.leb_size) {
            Ok(node) => {
                nodes.push(node);
                at += node.bytes.len().next_multiple_of(8);
            }
            Err(_) => at += 8,
        }
    }
    nodes
}

fn is_leaf(node: &Node) -> bool {
    matches!(node.kind, INO_NODE | DATA_NODE | DENT_NODE | TRUN_NODE)
}

/// Every valid leaf node of the main area, in volume order.
fn scan_nodes<'a>(vol: &'a [u8], geo: &Geometry) -> Vec<Node<'a>> {
    let lebs = vol.len().div_ceil(geo.leb_size);
    (geo.main_first..lebs)
        .flat_map(|lnum| leb_nodes(vol, geo, lnum, 0))
        .filter(is_leaf)
        .collect()
}

/// Leaf nodes written since the last commit. The log, from the master
/// node's log LEB on, starts with the commit-start node of the master's
/// commit, then reference nodes naming the journal's buds (LEB and offset);
/// a bud's nodes newer than the commit start are not in the index yet.
/// Each bud LEB is read once, however many references name it.
fn journal<'a>(vol: &'a [u8], geo: &Geometry, mst: Node, notes: &mut Notes) -> Vec<Node<'a>> {
    let m = mst.bytes;
    let log_lnum = le32(m, 44).unwrap_or(0) as usize;
    let cmt_no = le64(m, 32).unwrap_or(0);
    let log = LOG_FIRST..LOG_FIRST + geo.log_lebs;
    let start = node_at(vol, log_lnum * geo.leb_size, geo.leb_size);
    let cs = match start {
        Ok(n)
            if log.contains(&log_lnum)
                && n.kind == CS_NODE
                && le64(n.bytes, 24) == Some(cmt_no) =>
        {
            n
        }
        _ => {
            notes.push(Problem::Error(format!(
                "journal not replayed: no commit-start node for commit {cmt_no} at log LEB {log_lnum}; changes since that commit are missing"
            )));
            return Vec::new();
        }
    };
    let mut buds: HashMap<usize, usize> = HashMap::new();
    for i in 0..geo.log_lebs {
        let lnum = LOG_FIRST + (log_lnum - LOG_FIRST + i) % geo.log_lebs;
        let newer: Vec<Node> = leb_nodes(vol, geo, lnum, 0)
            .into_iter()
            .filter(|n| n.sqnum >= cs.sqnum)
            .collect();
        if newer.is_empty() {
            break; // the log ends: older LEBs follow
        }
        for r in newer
            .iter()
            .filter(|n| n.kind == REF_NODE && n.bytes.len() >= 36)
        {
            let (lnum, offs) = (
                le32(r.bytes, 24).unwrap_or(0) as usize,
                le32(r.bytes, 28).unwrap_or(0) as usize,
            );
            if lnum < geo.main_first || lnum >= geo.leb_cnt || offs >= geo.leb_size {
                notes.push(Problem::Error(format!(
                    "{}: journal reference to LEB {lnum}:{offs:#x} is outside the main area",
                    geo.place(r.at)
                )));
                continue;
            }
            let slot = buds.entry(lnum).or_insert(offs);
            *slot = (*slot).min(offs);
        }
    }
    let mut buds: Vec<(usize, usize)> = buds.into_iter().collect();
    buds.sort_unstable();
    buds.into_iter()
        .flat_map(|(lnum, offs)| leb_nodes(vol, geo, lnum, offs))
        .filter(|n| n.sqnum > cs.sqnum && is_leaf(n))
        .collect()
}

/// A directory entry: `name` in directory `parent` is inode `inum`.
struct Dent {
    sqnum: u64,
    inum: u64,
}

/// Newest inodes, entries and data blocks from the leaves, then the tree
/// from the root directory down.
fn build_tree(
    leaves: &[Node],
    geo: &Geometry,
    budget: &mut Budget,
    notes: &mut Notes,
) -> Vec<Entry> {
    let mut inodes: HashMap<u32, Node> = HashMap::new();
    let mut dents: HashMap<(u32, &[u8]), Dent> = HashMap::new();
    let mut blocks: HashMap<u32, HashMap<u32, Node>> = HashMap::new();
    // Newest truncation per inode: (sqnum, new size).
    let mut truncations: HashMap<u32, (u64, u64)> = HashMap::new();
    for &node in leaves {
        let key = node.key();
        let b = node.bytes;
        match node.kind {
            INO_NODE if b.len() >= INO_NODE_LEN => {
                let slot = inodes.entry(key.inum).or_insert(node);
                if node.sqnum > slot.sqnum {
                    *slot = node;
                }
            }
            DENT_NODE if b.len() > DENT_NODE_LEN => {
                let nlen = usize::from(le16(b, 50).unwrap_or(0));
                let Some(name) = b.get(DENT_NODE_LEN..DENT_NODE_LEN + nlen) else {
                    notes.push(Problem::Error(format!(
                        "{}: entry name runs past its node",
                        geo.place(node.at)
                    )));
                    continue;
                };
                let dent = Dent {
                    sqnum: node.sqnum,
                    inum: le64(b, 40).unwrap_or(0),
                };
                match dents.get(&(key.inum, name)) {
                    Some(old) if old.sqnum >= dent.sqnum => {}
                    _ => {
                        dents.insert((key.inum, name), dent);
                    }
                }
            }
            DATA_NODE if b.len() >= DATA_NODE_LEN => {
                let slot = blocks
                    .entry(key.inum)
                    .or_default()
                    .entry(key.block())
                    .or_insert(node);
                if node.sqnum > slot.sqnum {
                    *slot = node;
                }
            }
            TRUN_NODE if b.len() >= TRUN_NODE_LEN => {
                let inum = le32(b, 24).unwrap_or(0);
                let new_size = le64(b, 48).unwrap_or(0);
                let slot = truncations.entry(inum).or_insert((node.sqnum, new_size));
                if node.sqnum > slot.0 {
                    *slot = (node.sqnum, new_size);
                }
            }
            _ => {}
        }
    }
    // A deletion is an entry for inode 0; an inode with no links is gone.
    let mut children: HashMap<u32, Vec<(&[u8], u32)>> = HashMap::new();
    for ((parent, name), dent) in &dents {
        if dent.inum == 0 {
            continue;
        }
        let Ok(inum) = u32::try_from(dent.inum) else {
            notes.push(Problem::Error(format!(
                "entry {:?}: inode number {} is out of range",
                String::from_utf8_lossy(name),
                dent.inum
            )));
            continue;
        };
        children.entry(*parent).or_default().push((name, inum));
    }
    for list in children.values_mut() {
        list.sort_unstable();
    }

    let mut entries: Vec<Entry> = Vec::new();
    // Hard-linked inodes already read: the entry that holds their bytes.
    let mut first_link: HashMap<u32, usize> = HashMap::new();
    let mut dirs_seen = HashSet::from([ROOT_INO]);
    // Depth-first from the root, directories before what they hold.
    let mut stack: Vec<(u32, String)> = vec![(ROOT_INO, String::new())];
    'walk: while let Some((dir, prefix)) = stack.pop() {
        let Some(list) = children.get(&dir) else {
            continue;
        };
        let mut subdirs = Vec::new();
        for &(raw, inum) in list {
            let name = String::from_utf8_lossy(raw);
            let path = format!("{prefix}/{name}");
            if raw.is_empty()
                || raw.contains(&b'/')
                || raw.contains(&0)
                || raw == b"."
                || raw == b".."
            {
                notes.push(Problem::Error(format!(
                    "{prefix}: entry name {name:?} is not a file name; skipped"
                )));
                continue;
            }
            if path.len() > PATH_MAX {
                notes.push(Problem::Error(format!(
                    "{path}: longer than {PATH_MAX} bytes; skipped"
                )));
                continue;
            }
            let Some(ino) = inodes.get(&inum) else {
                notes.push(Problem::Error(format!(
                    "{path}: inode {inum} is missing; skipped"
                )));
                continue;
            };
            let b = ino.bytes;
            if le32(b, 92) == Some(0) {
                continue; // deleted, not yet removed from the index
            }
            if let Err(bound) = budget.entry() {
                notes.push(Problem::Limit(format!(
                    "ubifs: {bound} reached; the rest of its entries were skipped"
                )));
                break 'walk;
            }
            let mode = le32(b, 104).unwrap_or(0);
            let inline_len = (le32(b, 112).unwrap_or(0) as usize).min(b.len() - INO_NODE_LEN);
            let inline = &b[INO_NODE_LEN..INO_NODE_LEN + inline_len];
            let encrypted = le32(b, 108).unwrap_or(0) & CRYPT_FL != 0;
            let (kind, data) = match mode & S_IFMT {
                S_IFDIR => {
                    if dirs_seen.insert(inum) {
                        subdirs.push((inum, path.clone()));
                    } else {
                        notes.push(Problem::Error(format!("{path}: directory inode {inum} is linked twice (a loop); not entered again")));
                    }
                    (EntryKind::Dir, Vec::new())
                }
                S_IFLNK => (
                    EntryKind::Symlink(String::from_utf8_lossy(inline).into_owned()),
                    Vec::new(),
                ),
                S_IFREG if encrypted => {
                    notes.push(Problem::Error(format!(
                        "{path}: encrypted (fscrypt); contents not read"
                    )));
                    (EntryKind::File, Vec::new())
                }
                S_IFREG => {
                    let size = le64(b, 48).unwrap_or(0);
                    let data = match first_link.get(&inum) {
                        // A hard link: another copy of what was already read.
                        Some(&at) => {
                            let first: &Vec<u8> = &entries[at].data;
                            if let Err(bound) = budget.charge(first.len() as u64) {
                                notes.push(Problem::Limit(format!(
                                    "{path}: hard link copy of {} bytes reaches {bound}; skipped",
                                    first.len()
                                )));
                                continue;
                            }
                            first.clone()
                        }
                        None => {
                            let Some(data) = file_data(
                                &path,
                                size,
                                blocks.get(&inum),
                                truncations.get(&inum),
                                geo,
                                budget,
                                notes,
                            ) else {
                                continue;
                            };
                            if le32(b, 92).unwrap_or(0) > 1 {
                                first_link.insert(inum, entries.len());
                            }
                            data
                        }
                    };
                    (EntryKind::File, data)
                }
                _ => (EntryKind::Special, Vec::new()),
            };
            let (uid, gid) = (le32(b, 96).unwrap_or(0), le32(b, 100).unwrap_or(0));
            entries.push(Entry {
                path: path.trim_start_matches('/').to_string(),
                kind,
                data,
                meta: Some(Meta::new(mode, uid, gid)),
            });
        }
        stack.extend(subdirs.into_iter().rev());
    }
    entries
}

/// A regular file's bytes: `size` from its inode, its data blocks placed at
/// their block numbers, holes as zeros. The size is bounded like a compressed
/// stream's output (by the bytes of its data nodes and the ratio bound).
fn file_data(
    path: &str,
    size: u64,
    blocks: Option<&HashMap<u32, Node>>,
    truncation: Option<&(u64, u64)>,
    geo: &Geometry,
    budget: &mut Budget,
    notes: &mut Notes,
) -> Option<Vec<u8>> {
    let stored: u64 = blocks.map_or(0, |b| b.values().map(|n| n.bytes.len() as u64).sum());
    let bound = if size > budget.output_cap(stored) {
        Err(budget.output_cap_cause(stored))
    } else {
        budget.charge(size).map_err(|b| b.to_string())
    };
    if let Err(bound) = bound {
        notes.push(Problem::Limit(format!(
            "{path}: {size} bytes from {stored} stored bytes reach {bound}; skipped"
        )));
        return None;
    }
    let mut out = vec![0u8; size as usize];
    let Some(blocks) = blocks else {
        return Some(out);
    };
    let mut sorted: Vec<(&u32, &Node)> = blocks.iter().collect();
    sorted.sort_unstable_by_key(|(block, _)| **block);
    for (&block, node) in sorted {
        let start = block as usize * BLOCK_SIZE;
        if start >= out.len() {
            continue; // beyond the end: left over from before a truncation
        }
        if truncation.is_some_and(|&(sq, new_size)| node.sqnum < sq && start as u64 >= new_size) {
            continue;
        }
        let b = node.bytes;
        let want = le32(b, 40).unwrap_or(0) as usize;
        let compr = le16(b, 44).unwrap_or(0);
        let end = (start + want.min(BLOCK_SIZE)).min(out.len());
        let place = geo.place(node.at);
        if want > BLOCK_SIZE {
            notes.push(Problem::Error(format!(
                "{path}: block {block} ({place}) claims {want} bytes; skipped"
            )));
            continue;
        }
        let mut buf = [0u8; BLOCK_SIZE];
        match decompress(compr, &b[DATA_NODE_LEN..], &mut buf[..want]) {
            Ok(()) => out[start..end].copy_from_slice(&buf[..end - start]),
            Err(e) => notes.push(Problem::Error(format!(
                "{path}: block {block} ({place}, {}) is corrupt: {e}",
                compression_name(compr)
            ))),
        }
    }
    Some(out)
}

/// Decodes one data block into exactly `out.len()` bytes.
fn decompress(compr: u16, src: &[u8], out: &mut [u8]) -> Result<(), String> {
    let got = match compr {
        0 => {
            let n = out.len().min(src.len());
            out[..n].copy_from_slice(&src[..n]);
            n
        }
        1 => lzokay::decompress::decompress(src, out).map_err(|e| format!("{e:?}"))?,
        2 => {
            // Raw deflate (the kernel's "deflate" crypto compressor).
            let mut d = flate2::Decompress::new(false);
            d.decompress(src, out, flate2::FlushDecompress::Finish)
                .map_err(|e| e.to_string())?;
            d.total_out() as usize
        }
        3 => zstd::bulk::decompress_to_buffer(src, out).map_err(|e| e.to_string())?,
        other => return Err(format!("unknown compression type {other}")),
    };
    if got != out.len() {
        return Err(format!("{got} of {} bytes decoded", out.len()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::unpack::formats::listing;
    use crate::unpack::limits::Limits;

    /// `mkfs.ubifs -x zstd` of the fixture tree (make.sh).
    const ZSTD: &[u8] = include_bytes!("../../../tests/fixtures/rootfs-zstd.ubifs");
    const LEB: usize = 15360;

    fn extract(data: &[u8]) -> Extracted {
        Ubifs
            .extract(data, &mut Budget::new(Limits::default()))
            .unwrap()
    }

    const TREE: [&str; 13] = [
        "bin/",
        "bin/ash 17",
        "bin/busybox 17",
        "bin/sh -> busybox",
        "dev/",
        "dev/console 0",
        "etc/",
        "etc/empty 0",
        "etc/hostname 7",
        "usr/",
        "usr/lib/",
        "usr/lib/libdemo.so 18000",
        "usr/lib/random.bin 6000",
    ];

    fn expected() -> Vec<String> {
        let mut v: Vec<String> = TREE.iter().map(|s| s.to_string()).collect();
        v.push("usr/share/".into());
        v.push("usr/share/text.txt 14880".into());
        v.sort();
        v
    }

    #[test]
    fn reads_the_mkfs_tree_through_the_index() {
        let out = extract(ZSTD);
        assert!(out.notes.is_empty(), "{:?}", out.notes);
        assert_eq!(listing(&out), expected());
        let detail = out.detail.unwrap();
        assert!(
            detail.ends_with("default compression zstd, read through the index"),
            "{detail}"
        );
        let text = out
            .entries
            .iter()
            .find(|e| e.path == "usr/share/text.txt")
            .unwrap();
        let fixture = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/text.txt"
        ))
        .unwrap();
        assert_eq!(text.data, fixture.repeat(4));
        let ash = out.entries.iter().find(|e| e.path == "bin/ash").unwrap();
        assert_eq!(ash.data, b"\x7fELF fake busybox");
    }

    /// The fixture's geometry (`mkfs.ubifs -e 15360 -l 2`, see make.sh).
    fn geometry(data: &[u8]) -> Geometry {
        Geometry {
            leb_size: LEB,
            leb_cnt: data.len() / LEB,
            log_lebs: 2,
            main_first: 8,
            fanout: 8,
        }
    }

    /// Offset of the master node's root pointer (`root_lnum`) in the newest master node.
    fn root_pointer(data: &[u8]) -> usize {
        master(data, &geometry(data)).unwrap().at + 48
    }

    fn reseal(data: &mut [u8], at: usize) {
        let len = le32(data, at + 16).unwrap() as usize;
        let c = crc(&data[at + 8..at + len]);
        data[at + 4..at + 8].copy_from_slice(&c.to_le_bytes());
    }

    #[test]
    fn an_index_loop_ends_in_a_linear_scan_with_every_file() {
        let mut data = ZSTD.to_vec();
        let ptr = root_pointer(&data);
        let (root_lnum, root_offs) = (
            le32(&data, ptr).unwrap() as usize,
            le32(&data, ptr + 4).unwrap(),
        );
        let root = root_lnum * LEB + root_offs as usize;
        assert_eq!(data[root + 20], IDX_NODE);
        // The root's last branch points back at the root, with the root's length and its own key.
        let count = le16(&data, root + 24).unwrap() as usize;
        let last = root + IDX_NODE_LEN + (count - 1) * BRANCH_LEN;
        let root_len = le32(&data, root + 16).unwrap();
        data[last..last + 4].copy_from_slice(&(root_lnum as u32).to_le_bytes());
        data[last + 4..last + 8].copy_from_slice(&root_offs.to_le_bytes());
        data[last + 8..last + 12].copy_from_slice(&root_len.to_le_bytes());
        reseal(&mut data, root);
        let out = extract(&data);
        let notes = format!("{:?}", out.notes);
        assert!(notes.contains("index unreadable"), "{notes}");
        assert_eq!(listing(&out), expected());
        assert!(out.detail.unwrap().ends_with("read by a linear node scan"));
    }

    #[test]
    fn index_keys_out_of_their_range_fall_back_to_the_scan() {
        // Swap the keys of the root's first two branches.
        let mut data = ZSTD.to_vec();
        let ptr = root_pointer(&data);
        let root =
            le32(&data, ptr).unwrap() as usize * LEB + le32(&data, ptr + 4).unwrap() as usize;
        let (a, b) = (
            root + IDX_NODE_LEN + 12,
            root + IDX_NODE_LEN + BRANCH_LEN + 12,
        );
        let first: Vec<u8> = data[a..a + KEY_LEN].to_vec();
        data.copy_within(b..b + KEY_LEN, a);
        data[b..b + KEY_LEN].copy_from_slice(&first);
        reseal(&mut data, root);
        let out = extract(&data);
        let notes = format!("{:?}", out.notes);
        assert!(notes.contains("index keys out of order"), "{notes}");
        assert_eq!(listing(&out), expected());
    }

    #[test]
    fn a_deletion_entry_in_the_scan_hides_the_file() {
        // Break the master nodes so that the scan runs, and append a newer
        // deletion entry (inode 0) for etc/hostname in free main-area space.
        let mut data = ZSTD.to_vec();
        let geo = geometry(&data);
        let leaves = scan_nodes(&data, &geo);
        let dent = leaves
            .iter()
            .find(|n| n.kind == DENT_NODE && n.bytes[DENT_NODE_LEN..].starts_with(b"hostname"))
            .unwrap();
        let mut deletion = dent.bytes.to_vec();
        deletion[8..16].copy_from_slice(&u64::MAX.to_le_bytes());
        deletion[40..48].fill(0);
        let free = (geo.main_first..geo.leb_cnt)
            .rev()
            .map(|l| l * LEB)
            .find(|&at| data[at..at + LEB].iter().all(|&b| b == 0xff))
            .unwrap();
        data[free..free + deletion.len()].copy_from_slice(&deletion);
        reseal(&mut data, free);
        for lnum in 1..=2 {
            data[lnum * LEB..(lnum + 1) * LEB].fill(0xff);
        }
        let out = extract(&data);
        assert!(format!("{:?}", out.notes).contains("no valid master node"));
        let l = listing(&out);
        assert!(!l.iter().any(|p| p.starts_with("etc/hostname")), "{l:?}");
        assert!(l.contains(&"etc/empty 0".to_string()), "{l:?}");
    }

    /// A node as UBIFS writes it: common header, body, CRC.
    fn node(kind: u8, sqnum: u64, body: &[u8]) -> Vec<u8> {
        let mut n = vec![0u8; CH_LEN];
        n[..4].copy_from_slice(&MAGIC);
        n[8..16].copy_from_slice(&sqnum.to_le_bytes());
        n[16..20].copy_from_slice(&((CH_LEN + body.len()) as u32).to_le_bytes());
        n[20] = kind;
        n.extend_from_slice(body);
        let c = crc(&n[8..]);
        n[4..8].copy_from_slice(&c.to_le_bytes());
        n
    }

    #[test]
    fn the_journal_is_replayed_on_top_of_the_index() {
        // A bud in free LEB 10, named by a reference node in the log after
        // the commit-start node: it deletes etc/hostname and rewrites the
        // first block of usr/share/text.txt.
        let mut data = ZSTD.to_vec();
        let geo = geometry(&data);
        let leaves = scan_nodes(&data, &geo);
        let hostname = leaves
            .iter()
            .find(|n| n.kind == DENT_NODE && n.bytes[DENT_NODE_LEN..].starts_with(b"hostname"))
            .unwrap();
        let mut deletion = hostname.bytes[CH_LEN..].to_vec();
        deletion[40 - CH_LEN..48 - CH_LEN].fill(0);
        let text = leaves
            .iter()
            .find(|n| n.kind == INO_NODE && n.bytes[48..56] == 14880u64.to_le_bytes())
            .unwrap()
            .key();
        let mut block = vec![0u8; DATA_NODE_LEN - CH_LEN];
        block[..4].copy_from_slice(&text.inum.to_le_bytes());
        block[4..8].copy_from_slice(&(1u32 << 29).to_le_bytes());
        block[16..20].copy_from_slice(&5u32.to_le_bytes());
        block.extend_from_slice(b"HELLO");
        let bud = 10 * LEB;
        assert!(data[bud..bud + LEB].iter().all(|&b| b == 0xff));
        let first = node(DENT_NODE, 100, &deletion);
        data[bud..bud + first.len()].copy_from_slice(&first);
        let second = node(DATA_NODE, 101, &block);
        let at = bud + first.len().next_multiple_of(8);
        data[at..at + second.len()].copy_from_slice(&second);
        let mut reference = vec![0u8; 40];
        reference[..4].copy_from_slice(&10u32.to_le_bytes());
        reference[8..12].copy_from_slice(&1u32.to_le_bytes());
        let reference = node(REF_NODE, 99, &reference);
        let log = 3 * LEB + 0x200;
        data[log..log + reference.len()].copy_from_slice(&reference);

        let out = extract(&data);
        assert!(out.notes.is_empty(), "{:?}", out.notes);
        assert!(
            out.detail
                .as_deref()
                .unwrap()
                .ends_with("read through the index and 2 journal nodes")
        );
        let l = listing(&out);
        assert!(!l.iter().any(|p| p.starts_with("etc/hostname")), "{l:?}");
        let text = out
            .entries
            .iter()
            .find(|e| e.path == "usr/share/text.txt")
            .unwrap();
        assert_eq!(text.data.len(), 14880);
        assert_eq!(&text.data[..6], b"HELLO\0");
        assert!(text.data[5..BLOCK_SIZE].iter().all(|&b| b == 0));

        // A stale reference (older than the commit start) is not followed.
        let mut stale = data.clone();
        let old = node(REF_NODE, 1, &reference[CH_LEN..]);
        stale[log..log + old.len()].copy_from_slice(&old);
        assert_eq!(listing(&extract(&stale)), expected());
    }

    #[test]
    fn huge_sizes_are_bounded() {
        // text.txt's inode claims 2^40 bytes: a limit note, not an allocation.
        let mut data = ZSTD.to_vec();
        let geo = geometry(&data);
        let text_size = 14880u64.to_le_bytes();
        let at = scan_nodes(&data, &geo)
            .iter()
            .find(|n| n.kind == INO_NODE && n.bytes[48..56] == text_size)
            .unwrap()
            .at;
        data[at + 48..at + 56].copy_from_slice(&(1u64 << 40).to_le_bytes());
        reseal(&mut data, at);
        let out = extract(&data);
        assert!(
            out.notes.iter().any(|n| matches!(n, Problem::Limit(m) if m.contains("/usr/share/text.txt: 1099511627776 bytes"))),
            "{:?}",
            out.notes
        );
        assert!(
            !listing(&out)
                .iter()
                .any(|p| p.starts_with("usr/share/text.txt"))
        );
    }

    #[test]
    fn a_bad_block_is_noted_and_the_file_kept() {
        let mut data = ZSTD.to_vec();
        let geo = geometry(&data);
        let at = scan_nodes(&data, &geo)
            .iter()
            .find(|n| n.kind == DATA_NODE && le16(n.bytes, 44) == Some(3))
            .unwrap()
            .at;
        // Damage the zstd frame's magic and reseal the node.
        data[at + DATA_NODE_LEN] ^= 0xff;
        reseal(&mut data, at);
        let out = extract(&data);
        assert!(
            format!("{:?}", out.notes).contains("zstd) is corrupt: "),
            "{:?}",
            out.notes
        );
        assert_eq!(listing(&out).len(), expected().len());
    }

    #[test]
    fn chance_magic_and_truncation() {
        assert_eq!(
            Ubifs
                .extract(&ZSTD[LEB..LEB + 600], &mut Budget::new(Limits::default()))
                .unwrap_err(),
            Rejection::NotThisFormat
        );
        for cut in (0..ZSTD.len()).step_by(1499) {
            match Ubifs.extract(&ZSTD[..cut], &mut Budget::new(Limits::default())) {
                Ok(out) => assert!(
                    !out.notes.is_empty() || listing(&out) == expected(),
                    "cut {cut}"
                ),
                Err(Rejection::NotThisFormat) => assert!(cut < CH_LEN),
                Err(Rejection::Corrupt(m)) => assert!(cut < SB_NODE_LEN, "{cut}: {m}"),
                Err(e) => panic!("{e:?}"),
            }
        }
    }
}

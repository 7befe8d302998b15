//! The devices of each image, packed: the `image_devices` tree keeps, per
//! image, a header (device count and table shape) and buckets of devices
//! (id, model, tags), so that listing the 50,000 devices on one firmware
//! reads a few hundred values instead of 50,000 index entries, and a filter
//! on model or tag reads no device record.
//!
//! Devices are spread over an image's buckets by linear hashing of their id
//! (Litwin 1980): with `2^level + split` buckets, a device goes to bucket
//! `h mod 2^level`, or `h mod 2^(level+1)` when that is below `split`. When
//! the image holds more than [`LOAD`] devices per bucket, bucket `split` is
//! split in two. Every step reads and writes single keys, so it runs inside
//! the sled transaction that changes the device record itself (sled
//! transactions cannot iterate), and one upsert rewrites one header and one
//! or two buckets of at most a few kilobytes whatever the fleet's size.
//!
//! Keys (`sha256` is the image's hex id):
//! - `sha256 0x00` -> header: level, split, device count
//! - `sha256 0x01 bucket(u32 BE)` -> `count (id model tags)*`, sorted by id

use super::codec::{Reader, Writer};
use sled::transaction::{ConflictableTransactionError, TransactionalTree};
use std::collections::BTreeMap;

/// Average devices per bucket before the table grows: buckets stay near
/// 64 devices (about 1.5 KB), so a write stays small and a read fetches few.
pub const LOAD: u64 = 64;

/// The levels a table can reach (bucket numbers are u32).
const MAX_LEVEL: u8 = 31;

type TxResult<T> = Result<T, ConflictableTransactionError<String>>;

/// The shape of one image's table and how many devices it holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Header {
    pub level: u8,
    pub split: u32,
    pub count: u64,
}

impl Header {
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::default();
        w.uint(u64::from(self.level));
        w.uint(u64::from(self.split));
        w.uint(self.count);
        w.bytes
    }

    pub fn decode(bytes: &[u8]) -> Result<Header, String> {
        let mut r = Reader::new(bytes, "image device header");
        let level = r.uint()?;
        let split = r.uint()?;
        let count = r.uint()?;
        let header = Header {
            level: u8::try_from(level).map_err(|_| r.corrupt())?,
            split: u32::try_from(split).map_err(|_| r.corrupt())?,
            count,
        };
        if header.level > MAX_LEVEL || u64::from(header.split) >= 1u64 << header.level {
            return Err(r.corrupt());
        }
        Ok(header)
    }

    /// Buckets in the table.
    pub fn buckets(&self) -> u64 {
        (1u64 << self.level) + u64::from(self.split)
    }

    /// The bucket a device id belongs in.
    pub fn bucket_of(&self, id: &str) -> u32 {
        let h = hash(id);
        let low = h & ((1u64 << self.level) - 1);
        let b = if low < u64::from(self.split) {
            h & ((1u64 << (self.level + 1)) - 1)
        } else {
            low
        };
        b as u32
    }

    /// The smallest table (no pending split) that holds `count` devices.
    pub fn for_count(count: u64) -> Header {
        let mut level = 0;
        while level < MAX_LEVEL && count > LOAD << level {
            level += 1;
        }
        Header {
            level,
            split: 0,
            count,
        }
    }

    fn needs_split(&self) -> bool {
        self.level < MAX_LEVEL && self.count > LOAD * self.buckets()
    }
}

/// A stable hash of a device id (FNV-1a, then the MurmurHash3 finaliser so
/// the low bits, which pick the bucket, mix well). It is part of the
/// on-disk layout: never change it without a schema bump.
pub fn hash(id: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in id.as_bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

pub fn header_key(sha: &str) -> Vec<u8> {
    let mut k = sha.as_bytes().to_vec();
    k.push(0);
    k
}

/// Prefix of every bucket key of an image.
pub fn bucket_prefix(sha: &str) -> Vec<u8> {
    let mut k = sha.as_bytes().to_vec();
    k.push(1);
    k
}

pub fn bucket_key(sha: &str, bucket: u32) -> Vec<u8> {
    let mut k = bucket_prefix(sha);
    k.extend_from_slice(&bucket.to_be_bytes());
    k
}

/// One device as a bucket keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub id: String,
    pub model: String,
    pub tags: Vec<String>,
}

/// A bucket's bytes: members sorted by id (so equal contents are equal bytes).
pub fn encode_bucket(members: &[Member]) -> Vec<u8> {
    let mut w = Writer::default();
    w.uint(members.len() as u64);
    for m in members {
        w.str(&m.id);
        w.str(&m.model);
        w.strs(&m.tags);
    }
    w.bytes
}

pub fn decode_bucket(bytes: &[u8]) -> Result<Vec<Member>, String> {
    let mut out = Vec::new();
    visit_bucket(bytes, |id, model, tags| {
        out.push(Member {
            id: id.to_string(),
            model: model.to_string(),
            tags: tags.iter().map(|t| t.to_string()).collect(),
        })
    })?;
    Ok(out)
}

/// Calls `f(id, model, tags)` for every member, borrowing from `bytes`.
pub fn visit_bucket<'a>(
    bytes: &'a [u8],
    mut f: impl FnMut(&'a str, &'a str, &[&'a str]),
) -> Result<(), String> {
    let mut r = Reader::new(bytes, "image device bucket");
    let n = r.uint()?;
    let mut tags: Vec<&str> = Vec::new();
    for _ in 0..n {
        let id = r.str()?;
        let model = r.str()?;
        let count = r.len()?;
        tags.clear();
        for _ in 0..count {
            tags.push(r.str()?);
        }
        f(id, model, &tags);
    }
    if r.is_empty() {
        Ok(())
    } else {
        Err(r.corrupt())
    }
}

fn corrupt<T>(e: String) -> TxResult<T> {
    Err(ConflictableTransactionError::Abort(e))
}

fn read_header(tree: &TransactionalTree, sha: &str) -> TxResult<Option<Header>> {
    match tree.get(header_key(sha))? {
        Some(v) => Header::decode(&v).map(Some).or_else(corrupt),
        None => Ok(None),
    }
}

fn read_bucket(tree: &TransactionalTree, sha: &str, b: u32) -> TxResult<Vec<Member>> {
    match tree.get(bucket_key(sha, b))? {
        Some(v) => decode_bucket(&v).or_else(corrupt),
        None => Ok(Vec::new()),
    }
}

fn write_bucket(tree: &TransactionalTree, sha: &str, b: u32, members: &[Member]) -> TxResult<()> {
    if members.is_empty() {
        tree.remove(bucket_key(sha, b))?;
    } else {
        tree.insert(bucket_key(sha, b), encode_bucket(members))?;
    }
    Ok(())
}

/// Adds (or replaces) a device in image `sha`'s table, inside a transaction.
pub fn insert(tree: &TransactionalTree, sha: &str, member: Member) -> TxResult<()> {
    let mut header = read_header(tree, sha)?.unwrap_or_default();
    let b = header.bucket_of(&member.id);
    let mut members = read_bucket(tree, sha, b)?;
    match members.binary_search_by(|m| m.id.as_str().cmp(&member.id)) {
        Ok(i) => members[i] = member,
        Err(i) => {
            members.insert(i, member);
            header.count += 1;
        }
    }
    write_bucket(tree, sha, b, &members)?;
    if header.needs_split() {
        // Bucket `split` becomes `split` and `split + 2^level`.
        let from = header.split;
        let to = from + (1u32 << header.level);
        let (stay, go): (Vec<Member>, Vec<Member>) =
            read_bucket(tree, sha, from)?.into_iter().partition(|m| {
                let h = hash(&m.id);
                (h & ((1u64 << (header.level + 1)) - 1)) as u32 == from
            });
        write_bucket(tree, sha, from, &stay)?;
        write_bucket(tree, sha, to, &go)?;
        header.split += 1;
        if u64::from(header.split) == 1u64 << header.level {
            header.level += 1;
            header.split = 0;
        }
    }
    tree.insert(header_key(sha), header.encode())?;
    Ok(())
}

/// Removes a device from image `sha`'s table, inside a transaction. The
/// table never shrinks; a bucket left empty is deleted, and so is the
/// header of an image left without devices.
pub fn remove(tree: &TransactionalTree, sha: &str, id: &str) -> TxResult<()> {
    let Some(mut header) = read_header(tree, sha)? else {
        return Ok(());
    };
    let b = header.bucket_of(id);
    let mut members = read_bucket(tree, sha, b)?;
    let Ok(i) = members.binary_search_by(|m| m.id.as_str().cmp(id)) else {
        return Ok(());
    };
    members.remove(i);
    write_bucket(tree, sha, b, &members)?;
    header.count = header.count.saturating_sub(1);
    if header.count == 0 {
        tree.remove(header_key(sha))?;
    } else {
        tree.insert(header_key(sha), header.encode())?;
    }
    Ok(())
}

/// The keys and values a table holding `members` must have, given the
/// table's shape (`header`; its count is taken from `members`). Used by
/// `fleet verify` and to build tables in bulk.
pub fn layout(sha: &str, shape: Header, members: &mut [Member]) -> BTreeMap<Vec<u8>, Vec<u8>> {
    let mut out = BTreeMap::new();
    if members.is_empty() {
        return out;
    }
    let header = Header {
        count: members.len() as u64,
        ..shape
    };
    let mut buckets: BTreeMap<u32, Vec<Member>> = BTreeMap::new();
    members.sort_by(|a, b| a.id.cmp(&b.id));
    for m in members.iter() {
        buckets
            .entry(header.bucket_of(&m.id))
            .or_default()
            .push(m.clone());
    }
    out.insert(header_key(sha), header.encode());
    for (b, list) in buckets {
        out.insert(bucket_key(sha, b), encode_bucket(&list));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use sled::Transactional;

    fn member(i: usize) -> Member {
        Member {
            id: format!("dev-{i:06}"),
            model: format!("M-{}", i % 3),
            tags: if i.is_multiple_of(2) {
                vec!["eu".into()]
            } else {
                Vec::new()
            },
        }
    }

    fn contents(tree: &sled::Tree) -> BTreeMap<Vec<u8>, Vec<u8>> {
        tree.iter()
            .map(|kv| {
                let (k, v) = kv.unwrap();
                (k.to_vec(), v.to_vec())
            })
            .collect()
    }

    #[test]
    fn tables_grow_by_linear_hashing_and_agree_with_a_bulk_layout() {
        let db = sled::Config::new().temporary(true).open().unwrap();
        let tree = db.open_tree("image_devices").unwrap();
        let sha = "ab".repeat(32);
        let n = 1000;
        for i in 0..n {
            (&tree,)
                .transaction(|(t,)| insert(t, &sha, member(i)))
                .unwrap();
        }
        let header = Header::decode(&tree.get(header_key(&sha)).unwrap().unwrap()).unwrap();
        assert_eq!(header.count, n as u64);
        assert!(header.count <= LOAD * header.buckets(), "{header:?}");
        assert!(header.buckets() >= 16, "{header:?}");
        let mut all: Vec<Member> = (0..n).map(member).collect();
        assert_eq!(contents(&tree), layout(&sha, header, &mut all));
        // Every bucket stays small.
        for kv in tree.scan_prefix(bucket_prefix(&sha)) {
            let (_, v) = kv.unwrap();
            assert!(decode_bucket(&v).unwrap().len() < 3 * LOAD as usize);
        }
        // Replacing keeps the count; removing everything leaves nothing.
        let mut changed = member(7);
        changed.tags = vec!["us".into()];
        (&tree,)
            .transaction(|(t,)| insert(t, &sha, changed.clone()))
            .unwrap();
        all[7] = changed;
        assert_eq!(contents(&tree), layout(&sha, header, &mut all));
        for i in (0..n).rev() {
            (&tree,)
                .transaction(|(t,)| remove(t, &sha, &member(i).id))
                .unwrap();
        }
        assert!(contents(&tree).is_empty());
    }

    #[test]
    fn bulk_tables_are_no_bigger_than_needed() {
        assert_eq!(Header::for_count(1).buckets(), 1);
        assert_eq!(Header::for_count(LOAD).buckets(), 1);
        assert_eq!(Header::for_count(LOAD + 1).buckets(), 2);
        assert_eq!(Header::for_count(100_000).buckets(), 2048);
    }

    #[test]
    fn corrupt_headers_and_buckets_are_errors() {
        assert!(Header::decode(&[40, 0, 1]).is_err(), "level too high");
        assert!(Header::decode(&[2, 9, 1]).is_err(), "split past the level");
        assert!(Header::decode(&[2]).is_err());
        let bytes = encode_bucket(&[member(1), member(2)]);
        for cut in 0..bytes.len() {
            assert!(decode_bucket(&bytes[..cut]).is_err());
        }
        let mut long = bytes.clone();
        long.push(0);
        assert!(decode_bucket(&long).is_err(), "trailing bytes");
        assert_eq!(decode_bucket(&bytes).unwrap(), [member(1), member(2)]);
    }

    #[test]
    fn the_hash_is_stable() {
        // Part of the on-disk layout (values checked with a separate implementation).
        assert_eq!(hash(""), 0xefd0_1f60_ba99_2926);
        assert_eq!(hash("dev-000001"), 0xd22e_ffef_a1c6_0c83);
    }
}

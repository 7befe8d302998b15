//! Crafted inputs aimed at resource exhaustion, built in memory the way an
//! attacker writes them (hand-made deflate streams, tables that point at
//! each other), shared by `tests/hostile.rs` (bounds asserted) and
//! `benches/hostile.rs` (time and peak memory before and after).

use std::io::Write;

/// Bits written least significant first, as deflate packs them.
struct BitWriter {
    out: Vec<u8>,
    acc: u64,
    bits: u32,
}

impl BitWriter {
    fn new() -> BitWriter {
        BitWriter {
            out: Vec::new(),
            acc: 0,
            bits: 0,
        }
    }

    fn put(&mut self, value: u64, n: u32) {
        self.acc |= value << self.bits;
        self.bits += n;
        while self.bits >= 8 {
            self.out.push(self.acc as u8);
            self.acc >>= 8;
            self.bits -= 8;
        }
    }

    /// A Huffman code: its bits go most significant first.
    fn code(&mut self, code: u64, n: u32) {
        let reversed = code.reverse_bits() >> (64 - n);
        self.put(reversed, n);
    }

    fn finish(mut self) -> Vec<u8> {
        if self.bits > 0 {
            self.out.push(self.acc as u8);
        }
        self.out
    }
}

/// A raw deflate stream (RFC 1951) of `n` zero bytes, written directly: one
/// fixed-Huffman block of a literal zero and then matches of length 258 at
/// distance 1, 13 bits each (ratio about 159:1), so that gigabytes cost a
/// few megabytes and no time to make.
pub fn deflate_zeros(n: u64) -> Vec<u8> {
    let mut w = BitWriter::new();
    w.put(1, 1); // BFINAL
    w.put(1, 2); // BTYPE 01: fixed Huffman codes
    let mut left = n;
    if left > 0 {
        w.code(0x30, 8); // literal 0
        left -= 1;
    }
    while left >= 258 {
        w.code(0xc5, 8); // length code 285: 258 bytes
        w.code(0, 5); // distance code 0: distance 1
        left -= 258;
    }
    for _ in 0..left {
        w.code(0x30, 8);
    }
    w.code(0, 7); // end of block (256)
    w.finish()
}

/// One gzip member of `n` zero bytes. Its CRC-32 is left at zero: a bomb is
/// stopped long before its trailer is read.
pub fn gzip_zeros(n: u64) -> Vec<u8> {
    let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3];
    out.extend(deflate_zeros(n));
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&(n as u32).to_le_bytes());
    out
}

/// One ustar header block (+ data, padded) the way tar writes it, with any name.
pub fn tar_entry(name: &str, kind: u8, link: &str, data: &[u8]) -> Vec<u8> {
    let mut h = [0u8; 512];
    h[..name.len()].copy_from_slice(name.as_bytes());
    h[100..108].copy_from_slice(b"0000644\0");
    h[108..116].copy_from_slice(b"0000000\0");
    h[116..124].copy_from_slice(b"0000000\0");
    h[124..136].copy_from_slice(format!("{:011o}\0", data.len()).as_bytes());
    h[136..148].copy_from_slice(b"14000000000\0");
    h[156] = kind;
    h[157..157 + link.len()].copy_from_slice(link.as_bytes());
    h[257..265].copy_from_slice(b"ustar\x0000");
    h[148..156].fill(b' ');
    let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
    h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    let mut out = h.to_vec();
    out.extend_from_slice(data);
    out.resize(out.len().div_ceil(512) * 512, 0);
    out
}

/// `count` gzip bombs of `zeros` bytes each, side by side in one tar.
pub fn tar_of_gzip_bombs(count: usize, zeros: u64) -> Vec<u8> {
    let bomb = gzip_zeros(zeros);
    let mut tar = Vec::new();
    for i in 0..count {
        tar.extend(tar_entry(&format!("bomb-{i}.gz"), b'0', "", &bomb));
    }
    tar.extend([0u8; 1024]);
    tar
}

/// One newc cpio entry.
pub fn cpio_entry(name: &str, mode: u32, data: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "070701{:08x}{mode:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}",
        1,
        0,
        0,
        1,
        0,
        data.len(),
        0,
        0,
        0,
        0,
        name.len() + 1,
        0
    )
    .into_bytes();
    out.extend_from_slice(name.as_bytes());
    out.push(0);
    out.resize(out.len().div_ceil(4) * 4, 0);
    out.extend_from_slice(data);
    out.resize(out.len().div_ceil(4) * 4, 0);
    out
}

pub fn cpio_trailer() -> Vec<u8> {
    cpio_entry("TRAILER!!!", 0, b"")
}

/// A newc cpio of `count` one-byte files and its trailer.
pub fn cpio_flood(count: u32) -> Vec<u8> {
    let mut cpio = Vec::with_capacity(count as usize * 120);
    for i in 0..count {
        cpio.extend(cpio_entry(&format!("f{i}"), 0o100644, b"x"));
    }
    cpio.extend(cpio_trailer());
    cpio
}

/// A little-endian cramfs whose root holds `files` regular files of 16 MiB
/// (the largest a 24-bit size field allows) that all point at one table of
/// 4096 block pointers, every one a hole: about 16 KiB plus 16 bytes a file
/// that claim `files` × 16 MiB of zeros.
pub fn cramfs_of_holes(files: usize) -> Vec<u8> {
    const SIZE: u32 = (1 << 24) - 1;
    let pages = (SIZE as usize).div_ceil(4096);
    let inode = |mode: u32, size: u32, name_units: u32, offset: u32| -> [u8; 12] {
        let mut b = [0u8; 12];
        b[0..4].copy_from_slice(&mode.to_le_bytes()); // mode | uid 0
        b[4..8].copy_from_slice(&size.to_le_bytes()); // size | gid 0
        b[8..12].copy_from_slice(&(name_units | (offset / 4) << 6).to_le_bytes());
        b
    };
    let dir_at = 76;
    let table_at = dir_at + files * 16;
    let data_at = table_at + pages * 4;
    let mut image = vec![0u8; 64];
    image[0..4].copy_from_slice(&0x28cd_3d45u32.to_le_bytes());
    image[8..12].copy_from_slice(&0x100u32.to_le_bytes()); // FLAG_HOLES
    image[16..32].copy_from_slice(b"Compressed ROMFS");
    image[48..54].copy_from_slice(b"holes\0");
    image.extend(inode(0o040755, (files * 16) as u32, 0, dir_at as u32));
    for i in 0..files {
        image.extend(inode(0o100644, SIZE, 1, table_at as u32));
        image.extend(format!("{:04x}", i % 0x10000).as_bytes());
    }
    for _ in 0..pages {
        // Each page ends where it starts: no bytes, a hole.
        image.extend((data_at as u32).to_le_bytes());
    }
    let len = image.len() as u32;
    image[4..8].copy_from_slice(&len.to_le_bytes());
    image
}

/// CRC-32 of `n` zero bytes.
fn crc_of_zeros(n: u64) -> u32 {
    let chunk = vec![0u8; 1 << 20];
    let mut h = crc32fast::Hasher::new();
    let mut left = n;
    while left > 0 {
        let take = left.min(chunk.len() as u64) as usize;
        h.update(&chunk[..take]);
        left -= take as u64;
    }
    h.finalize()
}

/// A zip whose `entries` central directory records all point at one local
/// header and its deflate stream of `zeros` bytes (the full-overlap form of
/// David Fifield's "better zip bomb"), with the right CRC-32, so that every
/// entry reads back whole.
pub fn overlapping_zip(entries: usize, zeros: u64) -> Vec<u8> {
    let data = deflate_zeros(zeros);
    let crc = crc_of_zeros(zeros);
    let name = b"kernel";
    let mut zip = Vec::new();
    let header = |zip: &mut Vec<u8>, central: bool, name: &[u8]| {
        zip.extend_from_slice(if central {
            &[0x50, 0x4b, 0x01, 0x02, 20, 3][..]
        } else {
            &[0x50, 0x4b, 0x03, 0x04][..]
        });
        zip.extend_from_slice(&20u16.to_le_bytes()); // version needed
        zip.extend_from_slice(&0u16.to_le_bytes()); // flags
        zip.extend_from_slice(&8u16.to_le_bytes()); // deflate
        zip.extend_from_slice(&[0, 0, 0x21, 0]); // time, date (1980-01-01)
        zip.extend_from_slice(&crc.to_le_bytes());
        zip.extend_from_slice(&(data.len() as u32).to_le_bytes());
        zip.extend_from_slice(&(zeros as u32).to_le_bytes());
        zip.extend_from_slice(&(name.len() as u16).to_le_bytes());
        zip.extend_from_slice(&0u16.to_le_bytes()); // extra
    };
    header(&mut zip, false, name);
    zip.extend_from_slice(name);
    zip.extend_from_slice(&data);
    let central_at = zip.len();
    for i in 0..entries {
        let name = format!("kernel-{i:05}");
        header(&mut zip, true, name.as_bytes());
        zip.extend_from_slice(&0u16.to_le_bytes()); // comment
        zip.extend_from_slice(&0u16.to_le_bytes()); // disk
        zip.extend_from_slice(&0u16.to_le_bytes()); // internal attributes
        zip.extend_from_slice(&(0o100644u32 << 16).to_le_bytes());
        zip.extend_from_slice(&0u32.to_le_bytes()); // the one local header
        zip.extend_from_slice(name.as_bytes());
    }
    let central_len = zip.len() - central_at;
    zip.extend_from_slice(&[0x50, 0x4b, 0x05, 0x06, 0, 0, 0, 0]);
    zip.extend_from_slice(&(entries as u16).to_le_bytes());
    zip.extend_from_slice(&(entries as u16).to_le_bytes());
    zip.extend_from_slice(&(central_len as u32).to_le_bytes());
    zip.extend_from_slice(&(central_at as u32).to_le_bytes());
    zip.extend_from_slice(&0u16.to_le_bytes());
    zip
}

/// A squashfs 4.0 image (gzip) whose root directory lists `entries` names,
/// all hard links of one empty file: two inodes in the superblock's count,
/// and a directory table that the reader must build an entry for each of.
/// Metadata blocks are zlib-compressed, as mksquashfs writes them.
pub fn squashfs_of_links(entries: u32) -> Vec<u8> {
    const NOT_SET: u64 = u64::MAX;
    let metablocks = |table: &[u8]| -> Vec<u8> {
        let mut out = Vec::new();
        for chunk in table.chunks(8192) {
            let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(chunk).unwrap();
            let z = e.finish().unwrap();
            if z.len() < chunk.len() {
                out.extend_from_slice(&(z.len() as u16).to_le_bytes());
                out.extend_from_slice(&z);
            } else {
                out.extend_from_slice(&(chunk.len() as u16 | 0x8000).to_le_bytes());
                out.extend_from_slice(chunk);
            }
        }
        out
    };
    // The directory listing: headers of up to 256 entries, each entry
    // naming inode 2 (at offset 40 of inode metadata block 0).
    let mut listing = Vec::new();
    let mut i = 0u32;
    while i < entries {
        let group = (entries - i).min(256);
        listing.extend_from_slice(&(group - 1).to_le_bytes());
        listing.extend_from_slice(&0u32.to_le_bytes()); // inode block
        listing.extend_from_slice(&2u32.to_le_bytes()); // base inode number
        for _ in 0..group {
            let name = format!("{i:x}");
            listing.extend_from_slice(&40u16.to_le_bytes());
            listing.extend_from_slice(&0i16.to_le_bytes());
            listing.extend_from_slice(&2u16.to_le_bytes()); // basic file
            listing.extend_from_slice(&(name.len() as u16 - 1).to_le_bytes());
            listing.extend_from_slice(name.as_bytes());
            i += 1;
        }
    }
    let inode_header = |kind: u16, number: u32| {
        let mut h = Vec::new();
        h.extend_from_slice(&kind.to_le_bytes());
        h.extend_from_slice(&0o755u16.to_le_bytes());
        h.extend_from_slice(&0u16.to_le_bytes()); // uid index
        h.extend_from_slice(&0u16.to_le_bytes()); // gid index
        h.extend_from_slice(&0u32.to_le_bytes()); // mtime
        h.extend_from_slice(&number.to_le_bytes());
        h
    };
    let mut inodes = inode_header(8, 1); // extended directory: the root
    inodes.extend_from_slice(&(entries + 2).to_le_bytes()); // nlink
    inodes.extend_from_slice(&(listing.len() as u32 + 3).to_le_bytes());
    inodes.extend_from_slice(&0u32.to_le_bytes()); // listing's block
    inodes.extend_from_slice(&3u32.to_le_bytes()); // parent
    inodes.extend_from_slice(&0u16.to_le_bytes()); // index count
    inodes.extend_from_slice(&0u16.to_le_bytes()); // offset in block
    inodes.extend_from_slice(&u32::MAX.to_le_bytes()); // no xattrs
    assert_eq!(inodes.len(), 40);
    inodes.extend(inode_header(2, 2)); // basic file, empty
    inodes.extend_from_slice(&0u32.to_le_bytes()); // blocks start
    inodes.extend_from_slice(&u32::MAX.to_le_bytes()); // no fragment
    inodes.extend_from_slice(&0u32.to_le_bytes()); // offset
    inodes.extend_from_slice(&0u32.to_le_bytes()); // size
    let mut image = vec![0u8; 96];
    let inode_table = image.len() as u64;
    image.extend(metablocks(&inodes));
    let dir_table = image.len() as u64;
    image.extend(metablocks(&listing));
    let ids_at = image.len() as u64;
    image.extend_from_slice(&(4u16 | 0x8000).to_le_bytes());
    image.extend_from_slice(&0u32.to_le_bytes()); // uid/gid 0
    let id_table = image.len() as u64;
    image.extend_from_slice(&ids_at.to_le_bytes());
    let bytes_used = image.len() as u64;
    let sb = &mut image[..96];
    sb[0..4].copy_from_slice(b"hsqs");
    sb[4..8].copy_from_slice(&2u32.to_le_bytes()); // inodes
    sb[12..16].copy_from_slice(&131072u32.to_le_bytes());
    sb[20..22].copy_from_slice(&1u16.to_le_bytes()); // gzip
    sb[22..24].copy_from_slice(&17u16.to_le_bytes());
    sb[26..28].copy_from_slice(&1u16.to_le_bytes()); // one id
    sb[28..30].copy_from_slice(&4u16.to_le_bytes());
    sb[32..40].copy_from_slice(&0u64.to_le_bytes()); // root inode at 0:0
    sb[40..48].copy_from_slice(&bytes_used.to_le_bytes());
    sb[48..56].copy_from_slice(&id_table.to_le_bytes());
    sb[56..64].copy_from_slice(&NOT_SET.to_le_bytes());
    sb[64..72].copy_from_slice(&inode_table.to_le_bytes());
    sb[72..80].copy_from_slice(&dir_table.to_le_bytes());
    sb[80..88].copy_from_slice(&NOT_SET.to_le_bytes());
    sb[88..96].copy_from_slice(&NOT_SET.to_le_bytes());
    // Padded to 4 KiB as mksquashfs pads.
    image.resize(image.len().next_multiple_of(4096), 0);
    image
}

/// An rpmdb.sqlite whose `Packages` is a view running `query` (the columns
/// `hnum` and `blob` must come out of it).
pub fn rpmdb_with_view(path: &std::path::Path, setup: &str, query: &str) {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.execute_batch(setup).unwrap();
    conn.execute_batch(&format!("CREATE VIEW Packages AS {query};"))
        .unwrap();
}

/// A project whose `requirements.txt` includes `width` files, each of which
/// includes the `width` files of the next level, `levels` deep (within
/// pip's and fwaudit's nesting bound of 8); the last level's files pin
/// `pkgJ==1.J`. Read path by path that is `width^levels` reads.
pub fn requirements_lattice(dir: &std::path::Path, levels: usize, width: usize) {
    let includes = |level: usize| -> String {
        (0..width)
            .map(|j| format!("-r l{level}-{j}.txt\n"))
            .collect()
    };
    std::fs::write(dir.join("requirements.txt"), includes(0)).unwrap();
    for level in 0..levels {
        for j in 0..width {
            let text = if level + 1 < levels {
                includes(level + 1)
            } else {
                format!("pkg{j}==1.{j}\n")
            };
            std::fs::write(dir.join(format!("l{level}-{j}.txt")), text).unwrap();
        }
    }
}

/// `Packages` views that never end: (name, setup SQL, view query).
pub const RPMDB_VIEWS: [(&str, &str, &str); 2] = [
    (
        "recursive",
        "",
        "WITH RECURSIVE r(hnum, blob) AS (SELECT 1, zeroblob(64) UNION ALL \
         SELECT hnum + 1, blob FROM r) SELECT hnum, blob FROM r",
    ),
    (
        "cross-join",
        "CREATE TABLE t(x); WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL \
         SELECT i + 1 FROM c WHERE i < 1000) INSERT INTO t SELECT i FROM c;",
        "SELECT a.x AS hnum, zeroblob(1000000) AS blob FROM t a, t b, t c",
    ),
];

/// A root file system at `root` whose `/etc/ld.so.conf` includes
/// `/etc/ld.so.conf.d/*.conf`, and `files` such files that each include
/// them all again (`files^5` reads at a depth bound of 4 without a
/// visited set).
pub fn ld_so_conf_web(root: &std::path::Path, files: usize) {
    let confd = root.join("etc/ld.so.conf.d");
    std::fs::create_dir_all(&confd).unwrap();
    std::fs::create_dir_all(root.join("usr/lib")).unwrap();
    std::fs::write(
        root.join("etc/ld.so.conf"),
        "include /etc/ld.so.conf.d/*.conf\n",
    )
    .unwrap();
    for i in 0..files {
        std::fs::write(
            confd.join(format!("{i:02}.conf")),
            format!("include /etc/ld.so.conf.d/*.conf\n/usr/lib/dir{i:02}\n"),
        )
        .unwrap();
    }
}

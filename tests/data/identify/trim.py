#!/usr/bin/env python3
"""Trims real files into the sparse samples tests/accuracy.rs reads.

A sample keeps the file's size and offsets but only these bytes: an ELF
file's headers and the sections identification and ELF facts read
(.dynamic, .dynstr, .interp, .modinfo, notes); a boot image's first 4 KiB
(setup header); and 320 bytes either side of every occurrence of the
expected version text, of the product names, of every anchor and marker
in src/identify/signatures.toml, and of what each expected product's
anchorless signatures match (at most 24 occurrences each). Everything
else reads back as zeros. Precision is therefore measured on the bytes the
signatures look at, not on the whole file.

Format (then gzip): b"FWSPARSE1\\n", u64 LE size, then segments of
u64 LE offset, u32 LE length, bytes.

  trim.py CACHE_DIR OUT_DIR devset.tsv [SAMPLE...]
"""
import gzip, os, re, struct, sys, tomllib

import ahocorasick  # pip install pyahocorasick (only this script needs it)

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", "..", ".."))
WINDOW = 320
PER_NEEDLE = 24


def catalogue_needles():
    with open(os.path.join(ROOT, "src/identify/signatures.toml"), "rb") as f:
        cat = tomllib.load(f)
    needles, by_product, gated = set(), {}, {}
    for p in cat["product"]:
        own = set(p.get("markers", []))
        for s in p.get("signature", []):
            if "anchor" in s:
                needles.add(s["anchor"].encode("latin-1"))
                own.add(s["anchor"])
            else:
                # Anchorless (marker-gated) signatures: keep what they match.
                gated.setdefault(p["name"], []).append(re.compile(s["pattern"].encode("latin-1")))
        by_product[p["name"]] = {n.encode("latin-1") for n in own}
    return needles, by_product, gated


def elf_ranges(data):
    if data[:4] != b"\x7fELF" or len(data) < 64:
        return []
    bits64 = data[4] == 2
    end = "<" if data[5] == 1 else ">"
    try:
        if bits64:
            phoff, shoff = struct.unpack_from(end + "QQ", data, 0x20)
            phentsize, phnum, shentsize, shnum, shstrndx = struct.unpack_from(end + "HHHHH", data, 0x36)
        else:
            phoff, shoff = struct.unpack_from(end + "II", data, 0x1C)
            phentsize, phnum, shentsize, shnum, shstrndx = struct.unpack_from(end + "HHHHH", data, 0x2A)
        out = [(0, 64), (phoff, phentsize * phnum), (shoff, shentsize * shnum)]
        secs = []
        for i in range(shnum):
            o = shoff + i * shentsize
            if bits64:
                name, typ, _, _, off, size = struct.unpack_from(end + "IIQQQQ", data, o)
            else:
                name, typ, _, _, off, size = struct.unpack_from(end + "IIIIII", data, o)
            secs.append((name, typ, off, size))
        strtab = secs[shstrndx]
        names = data[strtab[2]:strtab[2] + strtab[3]]
        out.append((strtab[2], strtab[3]))
        for name, typ, off, size in secs:
            n = names[name:names.index(b"\0", name)].decode("latin-1")
            if typ == 8:  # NOBITS
                continue
            # What goblin reads to give the ELF facts (DT_NEEDED, SONAME,
            # symbol versions): dynamic section, its strings and symbols,
            # hash tables, version tables, notes.
            if typ in (2, 3, 5, 6, 7, 11, 0x6FFFFFF6, 0x6FFFFFFD, 0x6FFFFFFE, 0x6FFFFFFF) and (
                typ != 3 or n in (".dynstr", ".shstrtab")
            ) or n in (".interp", ".modinfo", ".comment"):
                out.append((off, min(size, 1 << 20)))
        return out
    except (struct.error, IndexError, ValueError):
        return [(0, 4096)]


def version_forms(product, version):
    forms = {version}
    m = re.match(r"(\d+)\.(\d+)\.(\d+)$", version)
    if m and product in ("libxml2", "libxslt"):
        forms.add("%d%02d%02d" % tuple(int(x) for x in m.groups()))
    if m and version.endswith(".0"):
        forms.add(version[:-2])  # "LibreSSL 2.0", "Unknown_4.5"
    return {f.encode() for f in forms}


def trim(data, expected, needles, by_product, gated):
    ranges = elf_ranges(data) or [(0, 4096)]
    wanted = set()
    for product, version in expected:
        if product == "-":
            continue
        for pattern in gated.get(product, []):
            for n, m in enumerate(pattern.finditer(data)):
                if n >= PER_NEEDLE:
                    break
                ranges.append((m.start() - WINDOW, m.end() - m.start() + 2 * WINDOW))
        wanted |= version_forms(product, version)
        wanted |= by_product.get(product, set())
        wanted.add(product.encode())
    automaton = ahocorasick.Automaton(ahocorasick.STORE_LENGTH)
    for needle in wanted | needles:
        automaton.add_word(needle.decode("latin-1"))
    automaton.make_automaton()
    counts = {}
    for end, length in automaton.iter(data.decode("latin-1")):
        at = end - length + 1
        # At most PER_NEEDLE windows per needle.
        word = data[at:end + 1]
        n = counts.get(word, 0)
        if n >= PER_NEEDLE:
            continue
        counts[word] = n + 1
        ranges.append((at - WINDOW, length + 2 * WINDOW))
    merged = []
    for start, length in sorted((max(0, s), l) for s, l in ranges if l > 0):
        end = min(len(data), start + length)
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        elif start < end:
            merged.append([start, end])
    out = bytearray(b"FWSPARSE1\n" + struct.pack("<Q", len(data)))
    for start, end in merged:
        out += struct.pack("<QI", start, end - start) + data[start:end]
    return bytes(out)


def main():
    cache, out_dir, tsv = sys.argv[1:4]
    only = set(sys.argv[4:])
    rows = {}
    for line in open(tsv):
        if line.startswith("#") or not line.strip():
            continue
        f = line.rstrip("\n").split("\t")
        rows.setdefault(f[0], []).append((f[2], f[3]))
    needles, by_product, gated = catalogue_needles()
    for sample, expected in sorted(rows.items()):
        if only and sample not in only:
            continue
        src = os.path.join(cache, sample)
        if not os.path.isfile(src):
            print("missing:", src, file=sys.stderr)
            continue
        with open(src, "rb") as f:
            data = f.read()
        dest = os.path.join(out_dir, sample + ".fws.gz")
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        with gzip.GzipFile(dest, "wb", compresslevel=9, mtime=0) as g:
            g.write(trim(data, expected, needles, by_product, gated))


if __name__ == "__main__":
    main()

#!/usr/bin/env bash
# Compares `fwaudit unpack IMG --extract DIR` with `binwalk -M -e -C DIR IMG`
# (binwalk 3) on every image benches/images.sh built, in one run, and prints a
# markdown table: files extracted by each, binwalk files whose content fwaudit
# did not produce, wall time, CPU time, peak RSS, and the machine's load.
#
#   benches/binwalk-setup.sh     # once: binwalk 3 and its extractors
#   benches/images.sh            # once: the image set (cached)
#   benches/vs_binwalk.sh [IMAGE...]
#
# Environment:
#   FWAUDIT_BIN          fwaudit binary (default: build the release binary)
#   FWAUDIT_BENCH_CACHE  image cache (default /var/cache/fwaudit-bench)
#   FWAUDIT_BENCH_TOOLS  binwalk's extra tools (default /opt/fwaudit-bench-tools)
#   BINWALK_FIXED        binwalk 3.1.0 with its main loop fixed (see
#                        binwalk-setup.sh; default $FWAUDIT_BENCH_TOOLS/binwalk-fixed/bin/binwalk).
#                        When present, its output is the file set fwaudit is
#                        held to and its time the one the ratio divides by;
#                        stock binwalk still runs, and its time and how much
#                        of its recursion it completed are shown beside.
#   FWAUDIT_BASE_BIN     a second fwaudit binary (say, main's) timed and
#                        compared in the same run, shown as "base"
#   REPEAT               runs of each tool per image (default 1); the fastest
#                        run is reported (the machine is shared: the minimum is
#                        the run least disturbed by others)
#   FWAUDIT_BENCH_TREES  where the extracted trees go (default /dev/shm/fwaudit-bench,
#                        a tmpfs: both tools write the same trees, several GB
#                        per image at REPEAT=2, and this machine's disk is shared
#                        and near full; a tmpfs also keeps out ext4's slow inode
#                        allocation right after mass deletions, see timed)
#   KEEP=1               keep the extracted trees (otherwise each image's are
#                        deleted once it is compared)
#
# What is compared: every regular file under each output directory, by SHA-256
# of its content (names differ by design: fwaudit writes provenance paths,
# binwalk hex offsets). A binwalk file whose content fwaudit wrote nowhere is
# put in one of five classes, listed per image in $CACHE/run/IMAGE.missing.txt:
#   - empty: zero bytes, so no content to miss (binwalk's 7z writes symlinks
#     and device nodes of a cpio as empty regular files; fwaudit writes the
#     symlink and, by policy, never creates device nodes).
#   - slice: a verbatim byte range of its binwalk parent (binwalk writes what
#     it finds at offset HEX of file P under P.extracted/HEX/), where fwaudit
#     has that parent too or the parent is the image: nothing was decoded, so
#     fwaudit holds those bytes (a uImage's still-compressed payload, an MBR
#     partition, a PEM certificate or SVG carved out of a binary).
#   - layer: an output binwalk names itself (decompressed.bin, partition_N.bin,
#     a UBI volume image, ...) that it went on to extract from: a decoded layer.
#     fwaudit writes every layer it decodes as a file too, so a layer fwaudit
#     lacks is a miss: it is counted in "missing" and shown apart only to tell
#     a missed decoder from a missed file.
#   - converted: not in the image in any form, made by a converter binwalk runs:
#     system.dtb (dtc's DTS text of a device tree), or a symlink that
#     tsk_recover writes as a file of NUL bytes as long as the link's target,
#     where fwaudit wrote a symlink with a target of that length.
#   - missing: everything else, plus the layers. These are the misses the
#     target is about.
# Timing: wall and CPU time and peak RSS from GNU time (`%M` is the largest
# single process of the tree, not a sum). The image is read once before the
# runs so both tools start from the page cache. The load average printed is
# /proc/loadavg just before each tool's run.
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE=${FWAUDIT_BENCH_CACHE:-/var/cache/fwaudit-bench}
TOOLS=${FWAUDIT_BENCH_TOOLS:-/opt/fwaudit-bench-tools}
REPEAT=${REPEAT:-1}
export PATH="$TOOLS/bin:$TOOLS/venv/bin:$PATH"

command -v binwalk >/dev/null || { echo "binwalk not found: run benches/binwalk-setup.sh" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "GNU time not found: apt-get install time" >&2; exit 1; }
if [ -z "${FWAUDIT_BIN:-}" ]; then cargo build --release --quiet; fi
bin=${FWAUDIT_BIN:-${CARGO_TARGET_DIR:-target}/release/fwaudit}
bin=$(realpath "$bin")

if [ $# -gt 0 ]; then
    images=("$@")
else
    mapfile -t images < <(find "$CACHE/images" -maxdepth 1 -type f ! -name 'MANIFEST*' | sort)
fi
[ ${#images[@]} -gt 0 ] || { echo "no images: run benches/images.sh" >&2; exit 1; }

RUN=$CACHE/run
TREES=${FWAUDIT_BENCH_TREES:-/dev/shm/fwaudit-bench}
# A previous run's trees are deleted only after this run's timings (see timed).
old=$TREES.old.$$
[ -d "$TREES" ] && mv "$TREES" "$old"
rm -rf "$RUN"
mkdir -p "$RUN" "$TREES"
results=$RUN/results.jsonl
fixed=${BINWALK_FIXED:-$TOOLS/binwalk-fixed/bin/binwalk}
[ -x "$fixed" ] || fixed=""
: >"$results"

# timed LABEL OUTDIR TIMEFILE -- COMMAND...: runs COMMAND REPEAT times, each
# into a fresh directory OUTDIR.N (never a just-deleted one: on an ext4 without
# a journal, as here, creating inodes right after deleting thousands scans past
# every recently deleted inode and costs both tools seconds), and keeps the
# fastest run's "wall user sys maxrss_kb exit load" in TIMEFILE and its output
# in OUTDIR (a symlink).
#
# Stock binwalk 3.1.0's main loop can end before its first worker has started
# (it waits while `active_count() > 0`, which a queued job not yet running
# does not count): on a loaded machine it then prints "Analyzed 0 files" and
# extracts nothing. Such a run is repeated (up to 5 times) and counted in the
# "retries" column; it is not a result.
timed() {
    local label=$1 out=$2 tf=$3; shift 4
    local best="" best_dir="" i line try load dir
    for ((i = 0; i < REPEAT; i++)); do
        for ((try = 0; try < 5; try++)); do
            dir=$out.$i.$try
            load=$(cut -d' ' -f1 /proc/loadavg)
            /usr/bin/time -f '%e %U %S %M %x' -o "$tf.raw" "${@//@OUT@/$dir}" >"$dir.stdout" 2>"$dir.stderr" || true
            if [[ $label == binwalk* ]] && grep -q '^Analyzed 0 files' "$dir.stdout"; then
                echo "  $label analyzed 0 files (its start-up race); again" >&2
                echo "$label" >>"$RUN/retries"
                continue
            fi
            break
        done
        line="$(tail -1 "$tf.raw" 2>/dev/null || true)"
        [ -n "$line" ] || line="999999 0 0 0 255"  # killed (or the disk filled up)
        line="$line $load"
        if [ -z "$best" ] || awk -v a="$line" -v b="$best" 'BEGIN{split(a,x," ");split(b,y," ");exit !(x[1]<y[1])}'; then
            best=$line
            best_dir=$dir
        fi
    done
    # binwalk -M queues every non-empty regular file it extracts: a complete
    # run analyzed that many plus the image.
    local analyzed="-" expected="-"
    if [[ $label == binwalk* ]]; then
        analyzed=$(grep -o '^Analyzed [0-9]* file' "$best_dir.stdout" | awk '{print $2}')
        # (less what binwalk carves and deliberately does not recurse into)
        expected=$(($( (find "$best_dir" -type f -size +0 ! -name 'pem.crt' ! -name 'pem.key' \
            ! -name 'image.jpg' ! -name 'image.gif' ! -name 'image.svg' ! -name 'image.riff' \
            ! -name 'video.wav' ! -name 'capture.pcapng' ! -name 'symtab.json' 2>/dev/null || true) | wc -l) + 1))
    fi
    echo "$best ${analyzed:-?} $expected" >"$tf"
    ln -sfn "$best_dir" "$out"
    echo "  $label: $(cut -d' ' -f1 "$tf") s wall, $(awk '{print $2 + $3}' "$tf") s CPU (load $(cut -d' ' -f6 "$tf"))${analyzed:+, analyzed $analyzed of $expected files}" >&2
}

for img in "${images[@]}"; do
    name=$(basename "$img")
    echo "== $name" >&2
    fw=$TREES/fwaudit/$name
    bw=$TREES/binwalk/$name
    mkdir -p "$TREES/fwaudit" "$TREES/binwalk" "$TREES/binwalk-fixed"
    : >"$RUN/retries"
    cat "$img" >/dev/null
    timed fwaudit "$fw" "$RUN/$name.fw.time" -- "$bin" unpack "$img" --extract @OUT@
    base=""
    if [ -n "${FWAUDIT_BASE_BIN:-}" ]; then
        mkdir -p "$TREES/fwaudit-base"
        base=$TREES/fwaudit-base/$name
        timed fwaudit-base "$base" "$RUN/$name.base.time" -- "$(realpath "$FWAUDIT_BASE_BIN")" unpack "$img" --extract @OUT@
    fi
    timed binwalk "$bw" "$RUN/$name.bw.time" -- binwalk -M -e -C @OUT@ "$img"
    ref=$bw reft=$RUN/$name.bw.time
    if [ -n "$fixed" ]; then
        ref=$TREES/binwalk-fixed/$name reft=$RUN/$name.bwf.time
        timed binwalk-fixed "$ref" "$reft" -- "$fixed" -M -e -C @OUT@ "$img"
    fi
    retries=$(wc -l <"$RUN/retries")
    python3 - "$img" "$(readlink -f "$fw")" "$(readlink -f "$ref")" "$RUN/$name.fw.time" "$reft" \
        "$RUN/$name.missing.txt" "$retries" "$RUN/$name.bw.time" "${fixed:+fixed}" \
        "${base:+$(readlink -f "$base")}" "$RUN/$name.base.time" >>"$results" <<'PY'
import hashlib, json, os, re, sys
img, fw, bw, fwt, bwt, missing_out, retries, stockt, reference, base, baset = sys.argv[1:]

def files(root):
    """(path, sha256) of every regular file under root, symlinks not followed."""
    out = []
    for d, dirs, names in os.walk(root):
        for n in names:
            p = os.path.join(d, n)
            if os.path.isfile(p) and not os.path.islink(p):
                h = hashlib.sha256()
                with open(p, "rb") as f:
                    for chunk in iter(lambda: f.read(1 << 20), b""):
                        h.update(chunk)
                out.append((p, h.hexdigest()))
    return out

def timing(path):
    wall, user, sys_, rss, code, load, analyzed, expected = open(path).read().split()
    return {"wall": float(wall), "cpu": float(user) + float(sys_), "rss_mib": int(rss) / 1024,
            "exit": int(code), "load": float(load), "analyzed": analyzed, "expected": expected}

bw_files = files(bw)
bw_hashes = {h for _, h in bw_files}
bw_hash_of = dict(bw_files)

def parent_of(p):
    """binwalk writes what it finds at offset HEX of file P under P.extracted/HEX/."""
    rel = os.path.relpath(p, bw)
    parts = rel.split(os.sep)
    for i in range(len(parts) - 2, 0, -1):
        if parts[i - 1].endswith(".extracted") and all(c in "0123456789ABCDEF" for c in parts[i]):
            parent = os.path.join(bw, *parts[:i - 1], parts[i - 1][: -len(".extracted")])
            return parent, int(parts[i], 16)
    return None, None

_parent_cache = {}
def parent_bytes(parent):
    if parent not in _parent_cache:
        _parent_cache.clear()
        _parent_cache[parent] = open(parent, "rb").read()
    return _parent_cache[parent]

def is_slice(p, fw_hashes):
    """A verbatim byte range of its parent, at or after binwalk's offset, where
    fwaudit has the parent (or the parent is the image): nothing was decoded."""
    parent, offset = parent_of(p)
    if parent is None:
        return False
    if os.path.islink(parent):
        parent = os.path.realpath(parent)
    if not os.path.isfile(parent):
        return False
    if os.path.realpath(parent) != os.path.realpath(img) and bw_hash_of.get(parent) not in fw_hashes:
        return False
    data = open(p, "rb").read()
    return parent_bytes(parent).find(data, offset) >= 0

# Names binwalk gives the output of a decoder or carver it runs itself (as
# opposed to files a file system or archive names).
SYNTHETIC = re.compile(r"^(decompressed\.bin|unsparsed\.img|kernel\.bin|autel\.decoded|s-record\.bin"
                       r"|partition_\d+\.bin|.*_partition\.\d+|img-\d+_vol-.*\.ubifs)$")
CONVERTED = {"system.dtb": "dtc's DTS text of a device tree blob"}

def link_targets(root):
    """Targets of every symlink fwaudit wrote under root, as bytes."""
    out = set()
    for d, dirs, names in os.walk(root):
        for n in dirs + names:
            p = os.path.join(d, n)
            if os.path.islink(p):
                out.add(os.fsencode(os.readlink(p)))
    return out

def classify(fw_hashes, fw_links):
    fw_link_lengths = {len(t) for t in fw_links}
    cats = {"missing": [], "empty": [], "slice": [], "layer": [], "converted": []}
    for p, h in bw_files:
        if h in fw_hashes:
            continue
        name = os.path.basename(p)
        extracted = p + ".extracted"
        size = os.path.getsize(p)
        if size == 0:
            cats["empty"].append(p)
        elif name in CONVERTED:
            cats["converted"].append(p)
        elif size in fw_link_lengths and open(p, "rb").read() == bytes(size):
            # tsk_recover writes a symlink as a file of as many NUL bytes as
            # the link's target is long
            cats["converted"].append(p)
        elif is_slice(p, fw_hashes):
            cats["slice"].append(p)
        elif SYNTHETIC.match(name) and os.path.isdir(extracted) and any(os.scandir(extracted)):
            cats["layer"].append(p)
        else:
            cats["missing"].append(p)
    return cats

base_summary = None
if base:
    base_files = files(base)
    base_cats = classify({h for _, h in base_files}, link_targets(base))
    base_summary = {"files": len(base_files), "missing": len(base_cats["missing"]) + len(base_cats["layer"]),
                    **timing(baset)}
fw_files = files(fw)
fw_hashes = {h for _, h in fw_files}
cats = classify(fw_hashes, link_targets(fw))
with open(missing_out, "w") as f:
    for cat in ("missing", "layer", "empty", "slice", "converted"):
        for p in sorted(cats[cat]):
            f.write(f"{cat} {os.path.relpath(p, bw)} {os.path.getsize(p)}\n")
print(json.dumps({
    "image": os.path.basename(img), "size": os.path.getsize(img),
    "fw_files": len(fw_files), "bw_files": len(bw_files),
    **{k: len(v) for k, v in cats.items()},
    "fw_only": sum(1 for _, h in fw_files if h not in bw_hashes),
    "fw": timing(fwt), "bw": timing(bwt), "stock": timing(stockt), "retries": int(retries),
    "reference": reference or "stock", "base": base_summary,
}))
PY
    # This image's trees, once compared (they are several GB for the big ones).
    if [ "${KEEP:-0}" != 1 ]; then
        rm -rf "$TREES"/*/"$name" "$TREES"/*/"$name".*
    fi
done
rm -rf "$old"

python3 - "$results" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
ref = "binwalk (fixed loop)" if rows and rows[0]["reference"] == "fixed" else "binwalk"
print(f"Reference: {ref}. Stock binwalk 3.1.0 shown for time and for how many of the files it extracted it went on to analyze (-M).\n")
print(f"| image | size (MB) | files fwaudit / {ref} | missing from fwaudit (of which decoded layers) | {ref} files not counted: empty / slices / converted | fwaudit-only files "
      f"| wall fwaudit / {ref} (s) | ratio | CPU fwaudit / {ref} (s) | peak RSS fwaudit / {ref} (MiB) "
      "| stock binwalk: wall (s), files analyzed / due | load (1 min) at fwaudit / binwalk runs | stock retries |"
      + (" base fwaudit: files, missing, wall (s), CPU (s), ratio |" if rows and rows[0]["base"] else ""))
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|" + ("---:|" if rows and rows[0]["base"] else ""))
for r in rows:
    fw, bw, st = r["fw"], r["bw"], r["stock"]
    ratio = fw["wall"] / bw["wall"] if bw["wall"] else float("inf")
    print(f"| {r['image']} | {r['size'] / 1e6:.1f} | {r['fw_files']} / {r['bw_files']} | "
          f"{r['missing'] + r['layer']} ({r['layer']}) | {r['empty']} / {r['slice']} / {r['converted']} | {r['fw_only']} | "
          f"{fw['wall']:.2f} / {bw['wall']:.2f} | {ratio:.2f} | {fw['cpu']:.2f} / {bw['cpu']:.2f} | "
          f"{fw['rss_mib']:.0f} / {bw['rss_mib']:.0f} | {st['wall']:.2f}, {st['analyzed']} / {st['expected']} | "
          f"{fw['load']:.1f} / {bw['load']:.1f} | {r['retries']} |"
          + (f" {r['base']['files']}, {r['base']['missing']}, {r['base']['wall']:.2f}, {r['base']['cpu']:.2f}, "
             f"{r['base']['wall'] / bw['wall']:.2f} |" if r["base"] else ""))
PY
echo "per-image lists of binwalk files fwaudit lacks, by class: $RUN/*.missing.txt" >&2

#!/usr/bin/env bash
# Installs what benches/vs_binwalk.sh compares against: binwalk 3 from
# crates.io and the external extractors binwalk 3 calls, from Debian where
# Debian has them, from PyPI (in a venv) where it does not.
# Also the image writers benches/images.sh uses (mkfs.*, sgdisk, img2simg,
# xorriso, mtools, mkimage).
#
# Tools go under $FWAUDIT_BENCH_TOOLS (default /opt/fwaudit-bench-tools):
#   bin/   shims for extractors Debian does not package (see below)
#   venv/  jefferson, ubi_reader, vmlinux-to-elf, uefi_firmware
# vs_binwalk.sh puts both on PATH in front of the system's.
#
# Extractors binwalk 3.1.0 names (`binwalk -L`) and where they come from here:
#   7z                      p7zip-full (zip, cpio, cramfs, GPT, 7z, compress'd)
#   7zzs                    not packaged: shim to 7zz from Debian's 7zip (APFS only)
#   sasquatch               not packaged: shim to unsquashfs (squashfs-tools).
#                           sasquatch is unsquashfs 4.3 plus vendor patches
#                           (LZMA variants, broken headers); on standard
#                           squashfs 4.0 images both extract the same files.
#   sasquatch-v4be          not packaged, not shimmed (unsquashfs 4.5 has no
#                           big-endian 4.0 support)
#   tsk_recover             sleuthkit (ext2/3/4, FAT, NTFS, ISO 9660)
#   ubireader_extract_*     PyPI ubi-reader
#   jefferson               PyPI jefferson (JFFS2)
#   vmlinux-to-elf          PyPI vmlinux-to-elf
#   uefi-firmware-parser    PyPI uefi-firmware
#   tar, lz4, zstd, lzop, dtc, cabextract, dmg2img, unyaffs, unrar (unrar-free): Debian
#   srec2bin, dumpifs, lzfse: not packaged in Debian 12; left missing (S-record,
#                           QNX IFS and LZFSE data are not in the image set)
set -euo pipefail
TOOLS=${FWAUDIT_BENCH_TOOLS:-/opt/fwaudit-bench-tools}
BINWALK_VERSION=3.1.0

export DEBIAN_FRONTEND=noninteractive
apt-get install -y -q \
    time pkg-config libfontconfig1-dev \
    p7zip-full 7zip squashfs-tools sleuthkit mtd-utils cpio tar \
    lz4 zstd lzop xz-utils device-tree-compiler cabextract dmg2img unyaffs unrar-free \
    u-boot-tools e2fsprogs python3-venv \
    android-sdk-libsparse-utils gdisk dosfstools mtools xorriso >/dev/null

if ! binwalk --version 2>/dev/null | grep -qx "binwalk $BINWALK_VERSION"; then
    # One job: the machine is shared.
    CARGO_BUILD_JOBS=${CARGO_BUILD_JOBS:-1} cargo install binwalk --locked --version "$BINWALK_VERSION"
fi

# binwalk 3.1.0 with its main loop's exit condition fixed, built beside the
# stock one as $TOOLS/binwalk-fixed/bin/binwalk. The stock loop runs
# `while queue not empty || pool.active_count() > 0` and takes at most one
# result per turn: it ends while results of finished workers are still in the
# channel (their extractions are then never scanned: -M stops short) and
# before a queued job has started (then "Analyzed 0 files"); a worker whose
# result can no longer be sent then panics and binwalk exits 255. The fix
# counts jobs spawned but not yet reported and loops until that is 0; nothing
# else changes. vs_binwalk.sh runs both and says which file set it compares.
src=$(find "${CARGO_HOME:-$HOME/.cargo}/registry/src" -maxdepth 2 -type d -name "binwalk-$BINWALK_VERSION" | head -1)
if [ ! -x "$TOOLS/binwalk-fixed/bin/binwalk" ] && [ -n "$src" ]; then
    rm -rf "$TOOLS/binwalk-fixed/src"
    mkdir -p "$TOOLS/binwalk-fixed"
    cp -r "$src" "$TOOLS/binwalk-fixed/src"
    python3 - "$TOOLS/binwalk-fixed/src/src/main.rs" <<'PY'
import sys
p = sys.argv[1]
s = open(p).read()
edits = [
    ("    while !target_files.is_empty() || workers.active_count() > 0 {",
     "    let mut outstanding: usize = 0;\n    while !target_files.is_empty() || outstanding > 0 {"),
    ("                worker_tx.clone(),\n            );\n",
     "                worker_tx.clone(),\n            );\n            outstanding += 1;\n"),
    ("        if let Ok(results) = worker_rx.try_recv() {\n",
     "        if let Ok(results) = worker_rx.try_recv() {\n            outstanding -= 1;\n"),
]
for old, new in edits:
    assert s.count(old) == 1, old
    s = s.replace(old, new)
open(p, "w").write(s)
PY
    CARGO_BUILD_JOBS=${CARGO_BUILD_JOBS:-1} cargo install --locked --path "$TOOLS/binwalk-fixed/src" \
        --root "$TOOLS/binwalk-fixed" --target-dir "$TOOLS/binwalk-fixed/target"
    rm -rf "$TOOLS/binwalk-fixed/target"
fi

mkdir -p "$TOOLS/bin"
if [ ! -x "$TOOLS/venv/bin/ubireader_extract_files" ]; then
    python3 -m venv "$TOOLS/venv"
    "$TOOLS/venv/bin/pip" install -q \
        jefferson==0.4.8 ubi-reader==0.8.16 vmlinux-to-elf==1.4.0 uefi-firmware==1.16
fi
cat >"$TOOLS/bin/sasquatch" <<'EOF'
#!/bin/sh
# Stand-in for sasquatch (not packaged in Debian): binwalk runs `sasquatch FILE`
# in the output directory and expects ./squashfs-root, as unsquashfs does.
exec unsquashfs "$@"
EOF
cat >"$TOOLS/bin/7zzs" <<'EOF'
#!/bin/sh
exec 7zz "$@"
EOF
chmod +x "$TOOLS/bin/sasquatch" "$TOOLS/bin/7zzs"
echo "binwalk and its extractors are ready under $TOOLS" >&2

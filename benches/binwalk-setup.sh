#!/usr/bin/env bash
# Installs what benches/vs_binwalk.sh compares against: binwalk 3 from
# crates.io and the external extractors binwalk 3 calls, from Debian where
# Debian has them, from PyPI (in a venv) where it does not.
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
    u-boot-tools e2fsprogs python3-venv >/dev/null

if ! binwalk --version 2>/dev/null | grep -qx "binwalk $BINWALK_VERSION"; then
    # One job: the machine is shared.
    CARGO_BUILD_JOBS=${CARGO_BUILD_JOBS:-1} cargo install binwalk --locked --version "$BINWALK_VERSION"
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

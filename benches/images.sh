#!/usr/bin/env bash
# Builds (and, where the network allows, downloads) the firmware image set for
# benches/vs_binwalk.sh into $FWAUDIT_BENCH_CACHE/images (default
# /var/cache/fwaudit-bench/images), outside the repository. Idempotent: an
# image already built is kept.
#
# Downloaded: OpenWrt release images, pinned by URL and SHA-256. A source that
# cannot be downloaded (no network, or a hash mismatch) is skipped with a loud
# message; the rest of the set is still built.
#
# Built from Debian 12 (bookworm) binary packages, fetched with apt-get through
# a private apt state under the cache (the machine's apt setup is not touched),
# unpacked with `dpkg-deb -x` (no maintainer scripts run):
#   debian-armhf-rootfs.sqfs      squashfs 4.0 xz, an armhf rootfs (~85 MB)
#   router-mipsel-sysupgrade.bin  OpenWrt-style: uImage (LZMA kernel) + squashfs xz
#                                 rootfs at a 64 KiB boundary + metadata trailer
#   router-mipsel.trx             Broadcom TRX v1: LZMA kernel + squashfs xz rootfs
#   initramfs-armhf.cpio.gz       newc cpio, gzip -9
#   ota-bundle.tar.gz             tar.gz of a manifest, a uImage, a squashfs (gzip)
#                                 rootfs and a zip of /etc
#   router-mipsel-rootfs.ubi      UBI image (ubinize) holding a UBIFS (lzo) volume
#   x86-64-combined-ext4.img.gz   MBR disk: ext4 /boot (kernel, grub.cfg) + ext4
#                                 rootfs, gzip'd, laid out like OpenWrt's
#                                 x86-64 ext4-combined image
#   ovmf-x86-64.fd                Debian's OVMF.fd (package ovmf): UEFI volumes
#   aavmf-aarch64.fd              Debian's QEMU_EFI.fd (package qemu-efi-aarch64)
#   android-system.simg           Android sparse image (img2simg) of an ext4 system partition
#   board-fit.itb                 U-Boot FIT (mkimage -f): LZMA kernel, initramfs, DTB
#   nas-disk-gpt.img              GPT disk (sgdisk): FAT32 data partition + ext4 rootfs
#   recovery.iso                  ISO 9660 + Rock Ridge + Joliet (xorriso)
#   camera-update.7z              7z, LZMA2 (p7zip): mipsel rootfs tree and kernel
#   rootfs-armhf.tar.lzo          tar | lzop -9
#   armhf-programs-arcadyan.bin   Arcadyan-obfuscated LZMA of a cpio of the armhf programs
#   router-mipsel-sqfs3-be.bin    squashfs 3.0 big-endian gzip  } firmware-mod-kit's
#   router-mipsel-nand.yaffs2     YAFFS2, 2048 + 64 OOB         } tools (FMK_SRC)
# Package versions used are written to images/MANIFEST with each image's SHA-256.
set -uo pipefail
CACHE=${FWAUDIT_BENCH_CACHE:-/var/cache/fwaudit-bench}
OUT=$CACHE/images
WORK=$CACHE/work
mkdir -p "$OUT" "$WORK"
export SOURCE_DATE_EPOCH=1700000000 TZ=UTC LC_ALL=C

loud() {
    printf '\n!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n' >&2
    printf '!!! SKIPPED: %s\n' "$*" >&2
    printf '!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n\n' >&2
}
have() { [ -s "$OUT/$1" ]; }

# ---------------------------------------------------------------- downloads
# name | URL | SHA-256. The x86-64 hash is the one published in that release's
# sha256sums (as pinned by other public projects); it could not be checked
# from the machine this script was written on, which reaches no host but
# package registries. Entries without a hash are never used unverified.
DOWNLOADS=(
    "openwrt-23.05.6-x86-64-generic-ext4-combined.img.gz|https://downloads.openwrt.org/releases/23.05.6/targets/x86/64/openwrt-23.05.6-x86-64-generic-ext4-combined.img.gz|c6e22b6f58ba721f15f3ccdbc26d4a85da64b7e3c564cd5bc70676eb91eeec51"
    "openwrt-23.05.6-ath79-generic-tplink_archer-c7-v5-squashfs-sysupgrade.bin|https://downloads.openwrt.org/releases/23.05.6/targets/ath79/generic/openwrt-23.05.6-ath79-generic-tplink_archer-c7-v5-squashfs-sysupgrade.bin|"
    "openwrt-23.05.6-ramips-mt7621-xiaomi_mi-router-4a-gigabit-squashfs-sysupgrade.bin|https://downloads.openwrt.org/releases/23.05.6/targets/ramips/mt7621/openwrt-23.05.6-ramips-mt7621-xiaomi_mi-router-4a-gigabit-squashfs-sysupgrade.bin|"
    "openwrt-23.05.6-bcm47xx-generic-standard-squashfs.trx|https://downloads.openwrt.org/releases/23.05.6/targets/bcm47xx/generic/openwrt-23.05.6-bcm47xx-generic-standard-squashfs.trx|"
)
for entry in "${DOWNLOADS[@]}"; do
    IFS='|' read -r name url sha <<<"$entry"
    have "$name" && continue
    if [ -z "$sha" ]; then
        loud "$name: no pinned SHA-256 yet (fill it in from the release's sha256sums; $url)"
        continue
    fi
    if ! curl -fsSL --max-time 120 -o "$WORK/$name.part" "$url"; then
        loud "$name: cannot download $url (this machine may reach only package registries)"
        rm -f "$WORK/$name.part"
        continue
    fi
    got=$(sha256sum "$WORK/$name.part" | cut -d' ' -f1)
    if [ "$got" != "$sha" ]; then
        loud "$name: SHA-256 mismatch (got $got, pinned $sha)"
        rm -f "$WORK/$name.part"
        continue
    fi
    mv "$WORK/$name.part" "$OUT/$name"
done

# ------------------------------------------------------- Debian-built images
APTDIR=$CACHE/apt
mkdir -p "$APTDIR/lists/partial" "$APTDIR/archives/partial" "$APTDIR/debs"
# Point release of bookworm main only (no -security/-updates): versions stay put
# longer, and what was used is recorded in MANIFEST anyway.
echo "deb [arch=armhf,mipsel,amd64] http://deb.debian.org/debian bookworm main" >"$APTDIR/sources.list"
touch "$APTDIR/status"
APT_BASE=(-o "Dir::Etc::SourceList=$APTDIR/sources.list" -o Dir::Etc::SourceParts=/dev/null
    -o "Dir::State::Lists=$APTDIR/lists" -o "Dir::Cache=$APTDIR" -o "Dir::State::status=$APTDIR/status"
    -o Acquire::Languages=none)
apt_for() { local arch=$1; shift; "$@" "${APT_BASE[@]}" -o "APT::Architecture=$arch" -o "APT::Architectures::=$arch"; }

if [ ! -s "$APTDIR/updated" ]; then
    if apt-get "${APT_BASE[@]}" -o APT::Architecture=amd64 -o APT::Architectures::=armhf \
        -o APT::Architectures::=mipsel -o APT::Architectures::=amd64 update -q >"$APTDIR/update.log" 2>&1; then
        date -u >"$APTDIR/updated"
    else
        loud "apt-get update against Debian failed (see $APTDIR/update.log): no Debian-built images"
        exit 1
    fi
fi

# Dependency closure (Depends + Pre-Depends, no Recommends) of packages for one arch.
closure() {
    local arch=$1; shift
    apt-cache "${APT_BASE[@]}" -o "APT::Architecture=$arch" -o "APT::Architectures::=$arch" \
        depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks \
        --no-replaces --no-enhances "$@" 2>/dev/null | grep -v '^ ' | grep -v '[<:]' | sort -u
}

# rootfs ARCH DIR EXCLUDE PACKAGES...: downloads the closure of PACKAGES, less
# the packages whose whole name matches the regex EXCLUDE, and unpacks it into DIR.
rootfs() {
    local arch=$1 dir=$2 exclude=${3:-^$}; shift 3
    [ -f "$dir/.complete" ] && return 0
    rm -rf "$dir" "$dir.packages"; mkdir -p "$dir"
    local debs=$APTDIR/debs/$arch
    mkdir -p "$debs"
    local pkgs
    pkgs=$(closure "$arch" "$@" | grep -vxE "$exclude") || return 1
    [ -n "$pkgs" ] || { loud "no packages resolved for $arch: $*"; return 1; }
    local missing
    missing=$(cd "$debs" && for p in $pkgs; do ls "${p}"_*.deb >/dev/null 2>&1 || echo "$p"; done)
    if [ -n "$missing" ]; then
        # shellcheck disable=SC2086
        (cd "$debs" && apt-get "${APT_BASE[@]}" -o "APT::Architecture=$arch" -o "APT::Architectures::=$arch" \
            download -q $missing >"$debs/download.log" 2>&1) ||
            { cat "$debs/download.log" >&2; loud "apt-get download failed for $arch packages"; return 1; }
    fi
    local p deb
    for p in $pkgs; do
        deb=$(ls "$debs/${p}"_*.deb 2>/dev/null | head -1)
        [ -n "$deb" ] || { loud "$p ($arch) was not downloaded"; return 1; }
        dpkg-deb -x "$deb" "$dir" || return 1
        echo "$arch $(basename "$deb")" >>"$dir.packages"
    done
    touch "$dir/.complete"
}

record() { # record IMAGE: its SHA-256 and the packages it was built from
    (cd "$OUT" && sha256sum "$1") >>"$OUT/MANIFEST.sha256"
}

squash() { # squash DIR OUT COMP
    # SOURCE_DATE_EPOCH sets every timestamp (the image is reproducible).
    mksquashfs "$1" "$2" -comp "$3" -noappend -all-root -no-xattrs -no-progress -quiet -e .complete >/dev/null
}

pad_to() { # pad_to FILE MULTIPLE (with 0xff, like erased flash)
    local size pad
    size=$(stat -c %s "$1")
    pad=$(((($2 - size % $2) % $2)))
    [ "$pad" -gt 0 ] && head -c "$pad" /dev/zero | tr '\0' '\377' >>"$1"
    return 0
}

R=$WORK/rootfs
mkdir -p "$R"
# Firmware rootfs builders leave out what a Debian closure drags in through
# maintainer-script tooling (perl, debconf, dpkg) and that no router ships.
SLIM='perl|perl-base|perl-modules-.*|libperl.*|lib.*-perl|usrmerge|usr-is-merged|debconf|cdebconf|dpkg|install-info|tar|libdebian-installer4|libnewt.*|libslang2|libtextwrap1|init-system-helpers|readline-common|libreadline8|libdb5.3|libgdbm.*|libselinux1|libacl1|libmd0|libbz2-1.0|liblzma5|libzstd1'

# Each builder runs in a subshell with `set -e`, writes under $WORK and moves
# its image into $OUT only when it is complete.
build() { # build NAME FUNCTION
    have "$1" && return 0
    # Not in an `if`: there `set -e` would be ignored inside the subshell too.
    (set -e; "$2" "$WORK/$1.tmp")
    if [ $? = 0 ] && [ -s "$WORK/$1.tmp" ]; then
        mv "$WORK/$1.tmp" "$OUT/$1"
        record "$1"
    else
        rm -f "$WORK/$1.tmp"
        loud "$1: could not be built (see the errors above)"
    fi
}

armhf_rootfs() {
    rootfs armhf "$R/armhf-full" '' busybox openssh-server openssl curl iproute2 iptables nftables \
        hostapd wpasupplicant dnsmasq-base lighttpd python3 systemd libicu72 perl openvpn \
        tcpdump bluez ca-certificates tzdata samba
    squash "$R/armhf-full" "$1" xz
}
build debian-armhf-rootfs.sqfs armhf_rootfs

# --- mipsel router: rootfs and kernel shared by the uImage, TRX, UBI and OTA images
mipsel_parts() {
    [ -s "$WORK/mipsel-kernel.lzma" ] && [ -s "$WORK/mipsel-rootfs.sqfs" ] && return 0
    rootfs mipsel "$R/mipsel-router" "$SLIM" busybox dropbear-bin iptables hostapd libssl3 zlib1g libnl-genl-3-200
    rootfs mipsel "$R/mipsel-kernel" "$SLIM" linux-image-4kc-malta
    # Debian's MIPS vmlinuz is a self-decompressing ELF around an xz'd (or
    # gzip'd) flat kernel (vmlinux.bin): take that flat kernel and LZMA it
    # with OpenWrt's parameters, as OpenWrt does.
    python3 - "$(ls "$R"/mipsel-kernel/boot/vmlinuz-* | head -1)" "$WORK/mipsel-vmlinux.bin" <<'PY'
import lzma, sys, zlib
d = open(sys.argv[1], "rb").read()
def payloads():
    for magic, decode in ((b"\xfd7zXZ\x00", lambda b: lzma.LZMADecompressor(lzma.FORMAT_XZ).decompress(b)),
                          (b"\x1f\x8b\x08", lambda b: zlib.decompressobj(31).decompress(b))):
        at = d.find(magic)
        while at >= 0:
            try:
                yield decode(d[at:])
            except (lzma.LZMAError, zlib.error):
                pass
            at = d.find(magic, at + 1)
out = next(p for p in payloads() if len(p) > 1 << 20)
open(sys.argv[2], "wb").write(out)
PY
    xz --format=lzma --lzma1=preset=6,lc=1,lp=2,pb=2 -c "$WORK/mipsel-vmlinux.bin" >"$WORK/mipsel-kernel.lzma.tmp"
    mv "$WORK/mipsel-kernel.lzma.tmp" "$WORK/mipsel-kernel.lzma"
    squash "$R/mipsel-router" "$WORK/mipsel-rootfs.sqfs.tmp" xz
    mv "$WORK/mipsel-rootfs.sqfs.tmp" "$WORK/mipsel-rootfs.sqfs"
}

sysupgrade() {
    mipsel_parts
    mkimage -A mips -O linux -T kernel -C lzma -a 0x80100000 -e 0x80100000 \
        -n "MIPS OpenWrt Linux-6.1" -d "$WORK/mipsel-kernel.lzma" "$1" >/dev/null
    pad_to "$1" 65536
    cat "$WORK/mipsel-rootfs.sqfs" >>"$1"
    pad_to "$1" 65536
    # sysupgrade metadata trailer (fwtool): JSON, then its length and magic.
    local meta='{"metadata_version":"1.1","compat_version":"1.0","supported_devices":["bench,router"],"version":{"dist":"OpenWrt","version":"bench"}}'
    printf '%s' "$meta" >>"$1"
    python3 -c "import struct,sys; sys.stdout.buffer.write(struct.pack('>I', len(sys.argv[1])) + b'FWx0')" "$meta" >>"$1"
}
build router-mipsel-sysupgrade.bin sysupgrade

trx() {
    mipsel_parts
    python3 - "$WORK/mipsel-kernel.lzma" "$WORK/mipsel-rootfs.sqfs" "$1" <<'PY'
import struct, sys, zlib
kernel, rootfs = (open(p, "rb").read() for p in sys.argv[1:3])
hdr_len = 28
kernel_at = hdr_len
rootfs_at = (kernel_at + len(kernel) + 0xffff) & ~0xffff
body = bytearray(rootfs_at - hdr_len)
body[:len(kernel)] = kernel
body += rootfs
body += b"\0" * ((-len(body) - hdr_len) % 4096)
length = hdr_len + len(body)
rest = struct.pack("<HHIII", 0, 1, kernel_at, rootfs_at, 0) + bytes(body)
crc = zlib.crc32(rest) ^ 0xffffffff  # trx.c: CRC-32 without the final inversion
open(sys.argv[3], "wb").write(b"HDR0" + struct.pack("<II", length, crc) + rest)
PY
}
build router-mipsel.trx trx

ubi() {
    mipsel_parts
    local u=$WORK/ubi
    mkdir -p "$u"
    mkfs.ubifs -r "$R/mipsel-router" -m 2048 -e 126976 -c 1024 -x lzo -U -o "$u/rootfs.ubifs"
    printf '[rootfs]\nmode=ubi\nimage=%s\nvol_id=0\nvol_type=dynamic\nvol_name=rootfs\nvol_flags=autoresize\n' \
        "$u/rootfs.ubifs" >"$u/ubinize.cfg"
    ubinize -o "$1" -m 2048 -p 128KiB -s 2048 -Q 1700000000 "$u/ubinize.cfg" 2>/dev/null
}
build router-mipsel-rootfs.ubi ubi

# --- armhf initramfs (cpio.gz) and OTA bundle (tar.gz)
initramfs() {
    rootfs armhf "$R/armhf-small" "$SLIM" busybox dropbear-bin iproute2 libssl3 zlib1g curl
    printf '#!/bin/busybox sh\nmount -t proc proc /proc\nexec /bin/busybox sh\n' >"$R/armhf-small/init"
    chmod 755 "$R/armhf-small/init"
    (cd "$R/armhf-small" && find . ! -name .complete -print0 | sort -z |
        cpio --null -o -H newc --reproducible --owner=0:0 --quiet) | gzip -n -9 >"$1"
}
build initramfs-armhf.cpio.gz initramfs

ota() {
    mipsel_parts
    rootfs armhf "$R/armhf-small" "$SLIM" busybox dropbear-bin iproute2 libssl3 zlib1g curl
    local o=$WORK/ota
    rm -rf "$o"; mkdir -p "$o/payload"
    squash "$R/armhf-small" "$o/payload/rootfs.sqfs" gzip
    mkimage -A mips -O linux -T kernel -C lzma -a 0x80100000 -e 0x80100000 \
        -n "OTA kernel" -d "$WORK/mipsel-kernel.lzma" "$o/payload/kernel.uimage" >/dev/null
    python3 - "$R/armhf-full/etc" "$o/payload/config.zip" <<'PY'
import os, sys, zipfile
root, out = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
    for d, dirs, files in sorted(os.walk(root)):
        dirs.sort()
        for f in sorted(files):
            p = os.path.join(d, f)
            if os.path.isfile(p) and not os.path.islink(p):
                info = zipfile.ZipInfo(os.path.relpath(p, os.path.dirname(root)), (2023, 11, 14, 0, 0, 0))
                info.compress_type = zipfile.ZIP_DEFLATED
                z.writestr(info, open(p, "rb").read())
PY
    (cd "$o/payload" && sha256sum rootfs.sqfs kernel.uimage config.zip) >"$o/payload/SHA256SUMS"
    printf '{"product":"bench-gateway","version":"2.4.1","payload":["kernel.uimage","rootfs.sqfs","config.zip"]}\n' \
        >"$o/payload/manifest.json"
    tar --sort=name --mtime=@"$SOURCE_DATE_EPOCH" --owner=0 --group=0 --numeric-owner \
        -C "$o/payload" -cf - . | gzip -n -9 >"$1"
}
build ota-bundle.tar.gz ota

# --- x86-64 ext4 combined disk image, gzip'd
x86() {
    rootfs amd64 "$R/amd64-root" "$SLIM" busybox dropbear-bin iproute2 iptables nftables dnsmasq-base \
        openssl curl python3-minimal
    rootfs amd64 "$R/amd64-kernel" "$SLIM" linux-image-cloud-amd64
    local d=$WORK/x86
    rm -rf "$d"; mkdir -p "$d/boot/boot/grub"
    cp "$(ls "$R"/amd64-kernel/boot/vmlinuz-* | head -1)" "$d/boot/boot/vmlinuz"
    printf 'serial --unit=0 --speed=115200\nset timeout="5"\nmenuentry "OpenWrt" {\n\tlinux /boot/vmlinuz root=PARTUUID=5452574f-02 rootwait console=ttyS0,115200n8\n}\n' \
        >"$d/boot/boot/grub/grub.cfg"
    export E2FSPROGS_FAKE_TIME=$SOURCE_DATE_EPOCH
    mke2fs -q -t ext4 -b 4096 -L kernel -U 11111111-2222-3333-4444-555555555555 \
        -E root_owner=0:0,hash_seed=11111111-2222-3333-4444-555555555555 -d "$d/boot" "$d/boot.ext4" 32M
    mke2fs -q -t ext4 -b 4096 -L rootfs -U 11111111-2222-3333-4444-666666666666 \
        -E root_owner=0:0,hash_seed=11111111-2222-3333-4444-666666666666 -d "$R/amd64-root" "$d/root.ext4" 160M
    python3 - "$d/boot.ext4" "$d/root.ext4" "$d/disk.img" <<'PY'
import struct, sys
boot, root = (open(p, "rb").read() for p in sys.argv[1:3])
S = 512
first = 512 * 1024 // S                      # partitions start at 512 KiB
second = first + (len(boot) + S - 1) // S
mbr = bytearray(S)
mbr[440:444] = struct.pack("<I", 0x5452574f)  # disk signature, as OpenWrt sets one
def entry(boot_flag, lba, count):
    return struct.pack("<B3sB3sII", boot_flag, b"\xfe\xff\xff", 0x83, b"\xfe\xff\xff", lba, count)
mbr[446:462] = entry(0x80, first, len(boot) // S)
mbr[462:478] = entry(0, second, len(root) // S)
mbr[510:512] = b"\x55\xaa"
with open(sys.argv[3], "wb") as f:
    f.write(mbr); f.write(b"\0" * (first * S - S)); f.write(boot); f.write(root)
PY
    gzip -n -9 <"$d/disk.img" >"$1"
    rm -f "$d/disk.img" "$d/boot.ext4" "$d/root.ext4"
}
build x86-64-combined-ext4.img.gz x86

# --- UEFI firmware as Debian ships it (issue 18): OVMF (x86-64, LZMA-compressed
# volumes inside volumes) and AAVMF (AArch64), unchanged.
firmware() { # firmware PACKAGE PATH-IN-PACKAGE OUT
    rootfs amd64 "$R/fw-$1" '^$' "$1"
    cp "$R/fw-$1/$2" "$3"
}
uefi_x86() { firmware ovmf usr/share/ovmf/OVMF.fd "$1"; }
uefi_arm() { firmware qemu-efi-aarch64 usr/share/qemu-efi-aarch64/QEMU_EFI.fd "$1"; }
build ovmf-x86-64.fd uefi_x86
build aavmf-aarch64.fd uefi_arm

# --- Formats issue 18 added, where binwalk 3.1.0 has an extractor for them
# (7z, ISO 9660 and FAT through tsk_recover, GPT through 7z, Android sparse,
# DTB/FIT, LZOP, Arcadyan, squashfs 3.x through unsquashfs, YAFFS2 through
# unyaffs). binwalk 3.1.0 has no extractor for Android boot images, super.img,
# payload.bin, EROFS, qcow2, Matter OTA, CBFS or UEFI capsules, and does not
# recognise a PCI option ROM (its `pchrom` is Intel's PCH flash descriptor;
# on iPXE's efi-e1000.rom it finds only the PE file and extracts nothing), so
# those are not in the set.
small_tree() { # the armhf initramfs tree: busybox, dropbear, iproute2, curl, libssl
    rootfs armhf "$R/armhf-small" "$SLIM" busybox dropbear-bin iproute2 libssl3 zlib1g curl
}
ext4_of() { # ext4_of DIR OUT SIZE LABEL UUID-SUFFIX
    E2FSPROGS_FAKE_TIME=$SOURCE_DATE_EPOCH mke2fs -q -t ext4 -b 4096 -L "$4" \
        -U "11111111-2222-3333-4444-$5" -E "root_owner=0:0,hash_seed=11111111-2222-3333-4444-$5" \
        -d "$1" "$2" "$3"
}

android_sparse() { # Android sparse image (img2simg) of an ext4 system partition
    small_tree
    ext4_of "$R/armhf-small" "$WORK/system.ext4" 96M system 777777777777
    img2simg "$WORK/system.ext4" "$1"
    rm -f "$WORK/system.ext4"
}
build android-system.simg android_sparse

board_dtb() { # board_dtb OUT: a small ARM board's device tree, compiled by dtc
    dtc -q -I dts -O dtb -o "$1" - <<'DTS'
/dts-v1/;
/ {
    model = "Bench Gateway GW-2";
    compatible = "bench,gw-2", "brcm,bcm2711";
    #address-cells = <1>; #size-cells = <1>;
    chosen { bootargs = "console=ttyS0,115200 root=/dev/mmcblk0p2 rootwait"; };
    memory@0 { device_type = "memory"; reg = <0x0 0x40000000>; };
    soc { compatible = "simple-bus"; #address-cells = <1>; #size-cells = <1>; ranges;
        serial@fe201000 { compatible = "arm,pl011"; reg = <0xfe201000 0x200>; status = "okay"; };
        ethernet@fd580000 { compatible = "brcm,bcm2711-genet-v5"; reg = <0xfd580000 0x10000>; };
    };
};
DTS
}

fit() { # U-Boot FIT (mkimage -f): LZMA kernel, gzip initramfs, DTB, one configuration
    mipsel_parts
    [ -s "$OUT/initramfs-armhf.cpio.gz" ] || return 1
    local f=$WORK/fit
    rm -rf "$f"; mkdir -p "$f"
    board_dtb "$f/board.dtb"
    cat >"$f/image.its" <<ITS
/dts-v1/;
/ {
    description = "Bench Gateway FIT";
    #address-cells = <1>;
    images {
        kernel-1 { description = "Linux 6.1"; data = /incbin/("$WORK/mipsel-kernel.lzma");
            type = "kernel"; arch = "mips"; os = "linux"; compression = "lzma";
            load = <0x80100000>; entry = <0x80100000>; hash-1 { algo = "sha256"; }; };
        ramdisk-1 { description = "initramfs"; data = /incbin/("$OUT/initramfs-armhf.cpio.gz");
            type = "ramdisk"; arch = "mips"; os = "linux"; compression = "none"; hash-1 { algo = "sha256"; }; };
        fdt-1 { description = "GW-2"; data = /incbin/("$f/board.dtb"); type = "flat_dt";
            arch = "mips"; compression = "none"; hash-1 { algo = "sha256"; }; };
    };
    configurations { default = "conf-1";
        conf-1 { kernel = "kernel-1"; ramdisk = "ramdisk-1"; fdt = "fdt-1"; };
    };
};
ITS
    mkimage -q -f "$f/image.its" "$1" >/dev/null
}
build board-fit.itb fit

gpt_disk() { # GPT disk (sgdisk): a FAT32 data partition and an ext4 rootfs, raw
    small_tree
    rootfs amd64 "$R/amd64-root" "$SLIM" busybox dropbear-bin iproute2 iptables nftables dnsmasq-base \
        openssl curl python3-minimal
    local d=$WORK/gpt
    rm -rf "$d"; mkdir -p "$d/data"
    # FAT holds no symlinks: the armhf tree's regular files only.
    (cd "$R/armhf-small" && find usr etc -type f -print0 | cpio --null -pdm --quiet "$d/data")
    find "$d/data" -exec touch -h -d @"$SOURCE_DATE_EPOCH" {} +
    mkfs.vfat -F 32 -i 1a2b3c4d -n NASDATA -C "$d/data.fat" 65536 >/dev/null
    MTOOLS_SKIP_CHECK=1 mcopy -s -p -m -i "$d/data.fat" "$d/data/usr" "$d/data/etc" ::/
    ext4_of "$R/amd64-root" "$d/root.ext4" 160M rootfs 888888888888
    local fat_s root_s total
    fat_s=$(($(stat -c %s "$d/data.fat") / 512)); root_s=$(($(stat -c %s "$d/root.ext4") / 512))
    total=$((2048 + fat_s + root_s + 2048))
    truncate -s $((total * 512)) "$d/disk.img"
    sgdisk -q -U 5452574f-0000-4000-8000-000000000001 \
        -n 1:2048:+${fat_s} -t 1:0700 -c 1:nas-data -u 1:5452574f-0000-4000-8000-000000000002 \
        -n 2:$((2048 + fat_s)):+${root_s} -t 2:8300 -c 2:rootfs -u 2:5452574f-0000-4000-8000-000000000003 \
        "$d/disk.img" >/dev/null
    dd if="$d/data.fat" of="$d/disk.img" bs=512 seek=2048 conv=notrunc status=none
    dd if="$d/root.ext4" of="$d/disk.img" bs=512 seek=$((2048 + fat_s)) conv=notrunc status=none
    mv "$d/disk.img" "$1"
    rm -rf "$d"
}
build nas-disk-gpt.img gpt_disk

iso() { # ISO 9660 with Rock Ridge and Joliet (xorriso): a recovery medium
    small_tree
    mipsel_parts
    local d=$WORK/iso
    rm -rf "$d"; mkdir -p "$d/boot"
    cp "$WORK/mipsel-kernel.lzma" "$d/boot/kernel.lzma"
    cp "$WORK/mipsel-rootfs.sqfs" "$d/boot/rootfs.sqfs"
    xorriso -as mkisofs -quiet -R -J -V RECOVERY -o "$1" "$d" "$R/armhf-small" 2>/dev/null
    rm -rf "$d"
}
build recovery.iso iso

sevenzip() { # 7z (LZMA2) of a camera-style update: the mipsel rootfs tree and kernel
    mipsel_parts
    local d=$WORK/7z
    rm -rf "$d"; mkdir -p "$d/update"
    cp -a "$R/mipsel-router" "$d/update/rootfs"
    rm -f "$d/update/rootfs/.complete"
    cp "$WORK/mipsel-kernel.lzma" "$d/update/kernel.lzma"
    (cd "$d" && 7z a -bd -mx=5 -mmt=2 "$d/out.7z" update >/dev/null)
    mv "$d/out.7z" "$1"
    rm -rf "$d"
}
build camera-update.7z sevenzip

lzop_tar() { # tar | lzop -9: a rootfs archive as some NAS updaters ship it
    small_tree
    tar --sort=name --mtime=@"$SOURCE_DATE_EPOCH" --owner=0 --group=0 --numeric-owner \
        --exclude=.complete -C "$R/armhf-small" -cf - . | lzop -9 -c >"$1"
}
build rootfs-armhf.tar.lzo lzop_tar

arcadyan() { # Arcadyan-obfuscated LZMA of a newc cpio of the armhf tree's programs
    # (the scheme binwalk's deobfuscator undoes: the 32 bytes at 4 and at 0x68
    # trade places, the one moved to 0x68 nibble- and byte-pair-swapped; see
    # tests/fixtures/arcadyan.py). binwalk 3.1.0 opens at most 0x1B0000 bytes
    # of it (real ones wrap a small kernel), so the payload is kept under that.
    small_tree
    (cd "$R/armhf-small" && find bin sbin usr/bin usr/sbin -print0 | sort -z |
        cpio --null -o -H newc --reproducible --owner=0:0 --quiet) >"$WORK/arcadyan.cpio"
    xz --format=lzma --lzma1=preset=6,dict=8MiB -c "$WORK/arcadyan.cpio" >"$WORK/arcadyan.lzma"
    python3 - "$WORK/arcadyan.lzma" "$1" <<'PY'
import sys
stream = open(sys.argv[1], "rb").read()
plain = b"ARC1" + stream
assert len(plain) <= 0x1B0000, len(plain)
swap = lambda b: b"".join(bytes([((x & 15) << 4) | (x >> 4) for x in b[i:i + 2][::-1]]) for i in range(0, len(b), 2))
out = bytearray(plain)
out[4:0x24] = plain[0x68:0x88]
out[0x68:0x88] = swap(plain[4:0x24])
assert out[0x68:0x6C] == bytes.fromhex("00d50800")
open(sys.argv[2], "wb").write(out)
PY
    rm -f "$WORK/arcadyan.lzma" "$WORK/arcadyan.cpio"
}
build armhf-programs-arcadyan.bin arcadyan

# squashfs 3.0 and YAFFS2: no Debian release packages a writer, so both come
# from firmware-mod-kit (github rampageX/firmware-mod-kit, commit 75bc064,
# GPL-2), as in tests/fixtures/squashfs-old.sh and yaffs2.sh: FMK_SRC=<its
# src/ directory> with `make mksquashfs` run in squashfs-3.0/ and `make` in
# yaffs2utils/. Without FMK_SRC both are skipped, loudly.
fmk_tool() { [ -n "${FMK_SRC:-}" ] && [ -x "$FMK_SRC/$1" ]; }
squashfs3() { # squashfs 3.0, big-endian, gzip: an older MIPS router's rootfs
    mipsel_parts
    "$FMK_SRC/squashfs-3.0/mksquashfs" "$R/mipsel-router" "$1" -be -noappend -all-root -e .complete >/dev/null
    chmod 644 "$1"
}
yaffs2() { # YAFFS2 NAND dump with OOB (2048 + 64, Linux MTD layout), little-endian
    mipsel_parts
    local d=$WORK/yaffs2-tree
    rm -rf "$d"; cp -a "$R/mipsel-router" "$d"; rm -f "$d/.complete"
    "$FMK_SRC/yaffs2utils/mkyaffs2" -p 2048 -s 64 "$d" "$1" >/dev/null
    rm -rf "$d"
}
if fmk_tool squashfs-3.0/mksquashfs; then build router-mipsel-sqfs3-be.bin squashfs3
else have router-mipsel-sqfs3-be.bin || loud "router-mipsel-sqfs3-be.bin: set FMK_SRC (see above)"; fi
if fmk_tool yaffs2utils/mkyaffs2; then build router-mipsel-nand.yaffs2 yaffs2
else have router-mipsel-nand.yaffs2 || loud "router-mipsel-nand.yaffs2: set FMK_SRC (see above)"; fi

cat "$R"/*.packages 2>/dev/null | sort -u >"$OUT/MANIFEST.packages"
sort -u -k2 "$OUT/MANIFEST.sha256" -o "$OUT/MANIFEST.sha256" 2>/dev/null
echo "images in $OUT:" >&2
ls -l "$OUT" >&2

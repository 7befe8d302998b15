#!/usr/bin/env bash
# Rebuilds the fwaudit firmware samples from scratch:
#   samples/router-armhf.bin      raw flash image: U-Boot + legacy uImage (gzip) + squashfs (xz), armhf
#   samples/openwrt-mipsel.bin    OpenWrt-like image: 0xFF pad + legacy uImage (lzma) + squashfs (gzip), mipsel
#   samples/bad/*                 deliberately broken inputs
# Needs: Debian 12 (bookworm), root (apt-get), network access to the Debian mirror.
# See README.md for where every binary comes from.
set -euo pipefail
umask 022
export LC_ALL=C TZ=UTC

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
OUT="$HERE"

# ---------------------------------------------------------------------------
# Pinned inputs (exact versions seen on the bookworm mirror when the samples
# were made). If a pinned version has left the mirror, the current candidate
# is used instead and a warning is printed; the dpkg status file always
# records what was really used.
# ---------------------------------------------------------------------------
HOST_PKGS=(u-boot-tools squashfs-tools xz-utils gzip binutils file openssl
           gcc-mipsel-linux-gnu)
UBOOT_PKG="u-boot-rpi:armhf=2023.01+dfsg-2+deb12u3"   # rpi_2/u-boot.bin (521644 bytes)

ARMHF_PKGS=(
  "libc6:armhf=2.36-9+deb12u14"
  "busybox:armhf=1:1.35.0-4+deb12u1+b1"
  "libssl3:armhf=3.0.20-1~deb12u2"
  "openssl:armhf=3.0.20-1~deb12u2"
  "zlib1g:armhf=1:1.2.13.dfsg-1"
  "libcurl4:armhf=7.88.1-10+deb12u15"
  "curl:armhf=7.88.1-10+deb12u15"
  "dropbear-bin:armhf=2022.83-1+deb12u3"
  "dnsmasq-base:armhf=2.90-4~deb12u2"
  "lighttpd:armhf=1.4.69-1"
  "lighttpd-mod-mbedtls:armhf=1.4.69-1"
  "libmbedcrypto7:armhf=2.28.3-1"
  "libmbedx509-1:armhf=2.28.3-1"
  "libmbedtls14:armhf=2.28.3-1"
  "libexpat1:armhf=2.5.0-1+deb12u2"
)
MIPSEL_PKGS=(
  "libc6:mipsel=2.36-9+deb12u14"
  "musl:mipsel=1.2.3-1"
  "busybox:mipsel=1:1.35.0-4+deb12u1+b1"
  "zlib1g:mipsel=1:1.2.13.dfsg-1"
  "libmbedcrypto7:mipsel=2.28.3-1"
  "libmbedx509-1:mipsel=2.28.3-1"
  "libmbedtls14:mipsel=2.28.3-1"
  "dnsmasq-base:mipsel=2.90-4~deb12u2"
  "dropbear-bin:mipsel=2022.83-1+deb12u3"
  "libjson-c5:mipsel=0.16-2"
)
# only needed at build time (headers / crt files), never copied into an image
MIPSEL_BUILD_PKGS=(
  "musl-dev:mipsel=1.2.3-1"
  "libmbedtls-dev:mipsel=2.28.3-1"
  "zlib1g-dev:mipsel=1:1.2.13.dfsg-1"
)

ROUTER_EPOCH=1588612695   # 2020-05-04 17:18:15 UTC, the stand-in kernel's build date
OPENWRT_EPOCH=1687706894  # 2023-06-25 15:28:14 UTC, the stand-in kernel's build date

ARM_BANNER='Linux version 4.14.180 (builder@buildhost) (gcc version 7.5.0 (OpenWrt GCC 7.5.0 r11257-5090152ae3)) #0 SMP Mon May 4 17:18:15 2020'
MIPS_BANNER='Linux version 5.10.176 (builder@buildhost) (mipsel-openwrt-linux-musl-gcc (OpenWrt GCC 12.3.0 r23497-6637af95aa) 12.3.0, GNU ld (GNU Binutils) 2.40.0) #0 Sun Jun 25 15:28:14 2023'

# ---------------------------------------------------------------------------
log() { printf '==> %s\n' "$*" >&2; }

ensure_host_tools() {
  local need=0 a
  for a in armhf mipsel; do
    dpkg --print-foreign-architectures | grep -qx "$a" || { dpkg --add-architecture "$a"; need=1; }
  done
  local p
  for p in "${HOST_PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need=1
  done
  # the foreign-arch package lists must be present for apt-get download
  apt-cache show busybox:armhf >/dev/null 2>&1 || need=1
  apt-cache show busybox:mipsel >/dev/null 2>&1 || need=1
  if [ "$need" = 1 ]; then
    log "apt-get update / install host tools"
    apt-get update || log "WARNING: apt-get update reported errors; continuing with the lists we have"
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${HOST_PKGS[@]}"
  fi
}

# download PKG:ARCH=VERSION into $1 (directory); fall back to the candidate version
fetch() {
  local dir="$1" spec="$2"
  ( cd "$dir"
    if ! apt-get download "$spec" >/dev/null 2>&1; then
      log "WARNING: $spec not on the mirror any more, using the current candidate of ${spec%%=*}"
      apt-get download "${spec%%=*}" >/dev/null 2>&1
    fi )
}

# the .deb file that fetch() produced for PKG (name without :arch)
deb_of() { ls "$1"/"$2"_*.deb; }

ff() { head -c "$1" /dev/zero | tr '\0' '\377'; }           # N bytes of 0xFF
roundup() { echo $(( ( $1 + $2 - 1 ) / $2 * $2 )); }
fsize() { stat -c %s "$1"; }
pad_file_to() { local f="$1" n="$2" s; s=$(fsize "$f"); [ "$s" -le "$n" ] || { echo "pad_file_to: $f is $s > $n" >&2; exit 1; }; ff $(( n - s )) >>"$f"; }

# copy PATHs (relative, as in the .deb) from extracted package dir SRC to the same place in ROOT
take() {
  local src="$1" root="$2"; shift 2
  local p
  for p in "$@"; do
    [ -e "$src/$p" ] || [ -L "$src/$p" ] || { echo "take: $src/$p missing" >&2; exit 1; }
    mkdir -p "$root/$(dirname "$p")"
    cp -a "$src/$p" "$root/$p"
  done
}
# copy SRC_PATH from extracted package dir to DEST_PATH (relative) inside ROOT
take_as() {
  local src="$1" root="$2" from="$3" to="$4"
  mkdir -p "$root/$(dirname "$to")"
  cp -a "$src/$from" "$root/$to"
}
# copy the copyright file of a package (if it has one)
take_copyright() {
  local src="$1" root="$2" pkg="$3"
  if [ -f "$src/usr/share/doc/$pkg/copyright" ]; then
    mkdir -p "$root/usr/share/doc/$pkg"
    cp "$src/usr/share/doc/$pkg/copyright" "$root/usr/share/doc/$pkg/copyright"
  fi
}

# deterministic stand-in "kernel", 64 KiB: 32 KiB AES-CTR keystream (key from LABEL), then 32 KiB of
# zeros (like a kernel's .bss/padding, so it compresses about as well as a real one), BANNER at 0x6a40
make_kernel() {
  local label="$1" banner="$2" out="$3" key
  key=$(printf '%s' "$label" | sha256sum | cut -c1-32)
  head -c 32768 /dev/zero | openssl enc -aes-128-ctr -nosalt -K "$key" -iv 00000000000000000000000000000000 >"$out"
  head -c 32768 /dev/zero >>"$out"
  printf '\0%s\n\0' "$banner" | dd of="$out" bs=1 seek=$((0x6a3f)) conv=notrunc status=none
  [ "$(fsize "$out")" = 65536 ]
}

mksqfs() {  # DIR OUT COMP EPOCH [extra mksquashfs args]
  local dir="$1" out="$2" comp="$3" epoch="$4"; shift 4
  mksquashfs "$dir" "$out" -comp "$comp" "$@" -noappend -all-root -no-xattrs \
    -mkfs-time "$epoch" -all-time "$epoch" -quiet -no-progress >/dev/null
}

# write a dpkg status file from the control files of the given .debs
write_dpkg_status() {
  local out="$1"; shift
  local d
  mkdir -p "$(dirname "$out")"
  : >"$out"
  for d in $(for x in "$@"; do printf '%s %s\n' "$(dpkg-deb -f "$x" Package)" "$x"; done | sort | cut -d' ' -f2); do
    dpkg-deb -f "$d" | awk '/^Package:/ { print; print "Status: install ok installed"; next } { print }' >>"$out"
    echo >>"$out"
  done
}

busybox_links() {  # ROOT  (relative symlinks, as a router's busybox install would make)
  local r="$1" a
  mkdir -p "$r/bin" "$r/sbin" "$r/usr/bin" "$r/usr/sbin"
  for a in sh ash cat chmod cp date dd df dmesg echo egrep false grep gunzip gzip hostname kill ln login ls mkdir mknod mount mv netstat ping ps pwd rm rmdir sed sleep sync tar touch true umount uname vi zcat; do
    ln -sf busybox "$r/bin/$a"
  done
  for a in getty halt ifconfig init insmod klogd lsmod modprobe poweroff reboot rmmod route syslogd udhcpc; do
    ln -sf ../bin/busybox "$r/sbin/$a"
  done
  for a in awk basename cut env find free head id killall logger md5sum nslookup printf reset sha256sum sort tail tee telnet test tftp top tr uptime wc wget which xargs; do
    ln -sf ../../bin/busybox "$r/usr/bin/$a"
  done
  for a in brctl chroot crond ntpd telnetd; do
    ln -sf ../../bin/busybox "$r/usr/sbin/$a"
  done
}

# ---------------------------------------------------------------------------
ensure_host_tools

WORK="$(mktemp -d /tmp/fwaudit-samples.XXXXXX)"
chmod 755 "$WORK"
if [ -n "${KEEP_WORK:-}" ]; then log "KEEP_WORK set: $WORK will be kept"; else trap 'rm -rf "$WORK"' EXIT; fi
rm -f "$OUT/router-armhf.bin" "$OUT/openwrt-mipsel.bin"
rm -rf "$OUT/bad"
log "working in $WORK"

DL="$WORK/debs"; mkdir -p "$DL/armhf" "$DL/mipsel" "$DL/mipsel-build" "$DL/host"
chmod -R 777 "$DL"   # lets apt's _apt user write there (avoids the sandbox warning)

log "downloading .debs"
fetch "$DL/host" "$UBOOT_PKG"
for s in "${ARMHF_PKGS[@]}"; do fetch "$DL/armhf" "$s"; done
for s in "${MIPSEL_PKGS[@]}"; do fetch "$DL/mipsel" "$s"; done
for s in "${MIPSEL_BUILD_PKGS[@]}"; do fetch "$DL/mipsel-build" "$s"; done

# extract each package on its own, so every file has a known origin
X="$WORK/x"
for arch in armhf mipsel mipsel-build host; do
  for d in "$DL/$arch"/*.deb; do
    p=$(dpkg-deb -f "$d" Package)
    mkdir -p "$X/$arch/$p"
    dpkg-deb -x "$d" "$X/$arch/$p"
  done
done

# ===========================================================================
# Image 1: router-armhf.bin
# ===========================================================================
log "building router-armhf rootfs"
A="$X/armhf"
R="$WORK/rootfs-armhf"
mkdir -p "$R"
for d in bin sbin lib usr/bin usr/sbin usr/lib etc/init.d etc/dropbear proc sys dev tmp var/run var/log var/lib/dpkg root www; do mkdir -p "$R/$d"; done
chmod 1777 "$R/tmp"; chmod 700 "$R/root"

T=arm-linux-gnueabihf
take "$A/libc6"          "$R" lib/ld-linux-armhf.so.3 lib/$T/ld-linux-armhf.so.3 lib/$T/libc.so.6 lib/$T/libresolv.so.2
take "$A/busybox"        "$R" bin/busybox
take "$A/libssl3"        "$R" usr/lib/$T/libssl.so.3 usr/lib/$T/libcrypto.so.3
take "$A/openssl"        "$R" usr/bin/openssl etc/ssl/openssl.cnf
take "$A/zlib1g"         "$R" lib/$T/libz.so.1 lib/$T/libz.so.1.2.13
take "$A/libcurl4"       "$R" usr/lib/$T/libcurl.so.4 usr/lib/$T/libcurl.so.4.8.0
take "$A/curl"           "$R" usr/bin/curl
take "$A/dropbear-bin"   "$R" usr/sbin/dropbear
take "$A/dnsmasq-base"   "$R" usr/sbin/dnsmasq
take "$A/lighttpd"       "$R" usr/sbin/lighttpd
take "$A/lighttpd-mod-mbedtls" "$R" usr/lib/lighttpd/mod_mbedtls.so
take "$A/libmbedcrypto7" "$R" usr/lib/$T/libmbedcrypto.so.7 usr/lib/$T/libmbedcrypto.so.2.28.3
take "$A/libmbedx509-1"  "$R" usr/lib/$T/libmbedx509.so.1 usr/lib/$T/libmbedx509.so.2.28.3
take "$A/libmbedtls14"   "$R" usr/lib/$T/libmbedtls.so.14 usr/lib/$T/libmbedtls.so.2.28.3
take "$A/libexpat1"      "$R" lib/$T/libexpat.so.1 lib/$T/libexpat.so.1.8.10
for p in "$A"/*; do take_copyright "$p" "$R" "$(basename "$p")"; done
busybox_links "$R"

write_dpkg_status "$R/var/lib/dpkg/status" "$DL"/armhf/*.deb

cat >"$R/etc/os-release" <<'EOF'
PRETTY_NAME="ExampleNet RT-3200 firmware 2.3.1 (based on Debian GNU/Linux 12 (bookworm))"
NAME="ExampleNet RouterFW"
VERSION_ID="2.3.1"
VERSION="2.3.1 (bookworm)"
VERSION_CODENAME=bookworm
ID=examplenet
ID_LIKE=debian
HOME_URL="https://www.example.com/rt-3200/"
BUILD_ID="20200504-1718"
EOF
cat >"$R/etc/banner" <<'EOF'
  _____                           _      _   _      _
 | ____|_  ____ _ _ __ ___  _ __ | | ___| \ | | ___| |_
 |  _| \ \/ / _` | '_ ` _ \| '_ \| |/ _ \  \| |/ _ \ __|
 | |___ >  < (_| | | | | | | |_) | |  __/ |\  |  __/ |_
 |_____/_/\_\__,_|_| |_| |_| .__/|_|\___|_| \_|\___|\__|
                           |_|   RT-3200  firmware 2.3.1
 -------------------------------------------------------
  Unauthorized access is prohibited.
EOF
echo rt3200 >"$R/etc/hostname"
cat >"$R/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
dnsmasq:x:100:65534:dnsmasq:/nonexistent:/bin/false
www-data:x:33:33:www-data:/www:/bin/false
EOF
cat >"$R/etc/group" <<'EOF'
root:x:0:
daemon:x:1:
www-data:x:33:
nogroup:x:65534:
EOF
cat >"$R/etc/shadow" <<'EOF'
root:*:18386:0:99999:7:::
daemon:*:18386:0:99999:7:::
nobody:*:18386:0:99999:7:::
dnsmasq:*:18386:0:99999:7:::
www-data:*:18386:0:99999:7:::
EOF
chmod 600 "$R/etc/shadow"
cat >"$R/etc/inittab" <<'EOF'
::sysinit:/etc/init.d/rcS
::respawn:/sbin/getty -L ttyS0 115200 vt100
::ctrlaltdel:/sbin/reboot
::shutdown:/bin/umount -a -r
EOF
cat >"$R/etc/init.d/rcS" <<'EOF'
#!/bin/sh
# ExampleNet RT-3200 boot script
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t tmpfs tmpfs /tmp
mkdir -p /tmp/log /var/run
hostname -F /etc/hostname
ifconfig lo 127.0.0.1 up
ifconfig br-lan 192.168.1.1 netmask 255.255.255.0 up
syslogd -C64
/usr/sbin/dropbear -R -p 22
/usr/sbin/dnsmasq -C /etc/dnsmasq.conf
/usr/sbin/lighttpd -f /etc/lighttpd/lighttpd.conf
cat /etc/banner
EOF
chmod 755 "$R/etc/init.d/rcS"
cat >"$R/etc/dnsmasq.conf" <<'EOF'
interface=br-lan
dhcp-range=192.168.1.100,192.168.1.249,12h
domain=lan
local=/lan/
EOF
mkdir -p "$R/etc/lighttpd"
cat >"$R/etc/lighttpd/lighttpd.conf" <<'EOF'
server.document-root = "/www"
server.port          = 80
server.username      = "www-data"
server.groupname     = "www-data"
server.modules      += ( "mod_mbedtls" )
$SERVER["socket"] == ":443" {
    ssl.engine  = "enable"
    ssl.pemfile = "/etc/lighttpd/server.pem"
}
EOF
cat >"$R/www/index.html" <<'EOF'
<!DOCTYPE html>
<html><head><title>RT-3200</title></head><body><h1>ExampleNet RT-3200</h1><p>Firmware 2.3.1</p></body></html>
EOF
echo '2.3.1' >"$R/etc/version"

# ---- layers
log "assembling router-armhf.bin"
make_kernel arm-4.14.180 "$ARM_BANNER" "$WORK/arm-kernel.bin"
gzip -9 -n -c "$WORK/arm-kernel.bin" >"$WORK/arm-kernel.bin.gz"
SOURCE_DATE_EPOCH=$ROUTER_EPOCH mkimage -A arm -O linux -T kernel -C gzip -a 0x80008000 -e 0x80008000 \
  -n "ARM OpenWrt Linux-4.14.180" -d "$WORK/arm-kernel.bin.gz" "$WORK/arm-uImage" >/dev/null
mksqfs "$R" "$WORK/arm-rootfs.sqfs" xz "$ROUTER_EPOCH" -b 1048576 -Xbcj armthumb

UBOOT_BIN="$X/host/u-boot-rpi/usr/lib/u-boot/rpi_2/u-boot.bin"
BOOT_SIZE=$(roundup "$(fsize "$UBOOT_BIN")" 65536)
[ "$BOOT_SIZE" -ge $((0x40000)) ] || BOOT_SIZE=$((0x40000))
ARM_UIMAGE_OFF=$BOOT_SIZE
ARM_SQFS_OFF=$(roundup $(( ARM_UIMAGE_OFF + $(fsize "$WORK/arm-uImage") )) 65536)

IMG="$WORK/router-armhf.bin"
cp "$UBOOT_BIN" "$IMG"
pad_file_to "$IMG" "$ARM_UIMAGE_OFF"
cat "$WORK/arm-uImage" >>"$IMG"
pad_file_to "$IMG" "$ARM_SQFS_OFF"
cat "$WORK/arm-rootfs.sqfs" >>"$IMG"
pad_file_to "$IMG" "$(roundup "$(fsize "$IMG")" 65536)"
cp "$IMG" "$OUT/router-armhf.bin"

# ===========================================================================
# Image 2: openwrt-mipsel.bin
# ===========================================================================
log "compiling mipsel programs"
M="$X/mipsel"; MB="$X/mipsel-build"
CC=mipsel-linux-gnu-gcc
STRIP=mipsel-linux-gnu-strip
BLD="$WORK/build-mipsel"; mkdir -p "$BLD"
CFLAGS=(-O2 -Wall -fno-ident "-ffile-prefix-map=$HERE=/src" "-ffile-prefix-map=$WORK=/build")
# uhttpd-lite: glibc + mbed TLS + zlib (link against the exact .so files that go into the image)
$CC "${CFLAGS[@]}" -I"$MB/libmbedtls-dev/usr/include" -I"$MB/zlib1g-dev/usr/include" \
  -o "$BLD/uhttpd" "$HERE/src/uhttpd-lite.c" \
  -L"$M/libmbedtls14/usr/lib/mipsel-linux-gnu" -L"$M/libmbedx509-1/usr/lib/mipsel-linux-gnu" \
  -L"$M/libmbedcrypto7/usr/lib/mipsel-linux-gnu" -L"$M/zlib1g/lib/mipsel-linux-gnu" \
  -l:libmbedtls.so.14 -l:libmbedx509.so.1 -l:libmbedcrypto.so.7 -l:libz.so.1
$STRIP --strip-unneeded -R .comment "$BLD/uhttpd"
# sysinfo: musl only, via musl-dev's gcc specs file (paths rewritten to the extracted package)
MD="$MB/musl-dev"
sed -e "s#/usr/include/mipsel-linux-musl#$MD/usr/include/mipsel-linux-musl#g" \
    -e "s#/usr/lib/mipsel-linux-musl#$MD/usr/lib/mipsel-linux-musl#g" \
    "$MD/usr/lib/mipsel-linux-musl/musl-gcc.specs" >"$BLD/musl-gcc.specs"
$CC -specs "$BLD/musl-gcc.specs" "${CFLAGS[@]}" -o "$BLD/sysinfo" "$HERE/src/sysinfo.c" \
  -L"$M/musl/lib/mipsel-linux-musl"
$STRIP --strip-unneeded -R .comment "$BLD/sysinfo"

log "building openwrt-mipsel rootfs"
W="$WORK/rootfs-mipsel"
mkdir -p "$W"
for d in bin sbin lib usr/bin usr/sbin usr/lib etc/init.d etc/config etc/dropbear proc sys dev tmp var overlay rom root www usr/lib/opkg; do mkdir -p "$W/$d"; done
chmod 1777 "$W/tmp"; chmod 700 "$W/root"
MT=mipsel-linux-gnu
# OpenWrt keeps libraries flat in /lib and /usr/lib (no multiarch directory)
take_as "$M/libc6" "$W" lib/$MT/ld.so.1        lib/ld.so.1
take_as "$M/libc6" "$W" lib/$MT/libc.so.6      lib/libc.so.6
take_as "$M/libc6" "$W" lib/$MT/libresolv.so.2 lib/libresolv.so.2
take_as "$M/musl"  "$W" lib/mipsel-linux-musl/libc.so lib/libc.so
ln -s libc.so "$W/lib/ld-musl-mipsel.so.1"
take "$M/busybox" "$W" bin/busybox
take_as "$M/zlib1g" "$W" lib/$MT/libz.so.1.2.13 usr/lib/libz.so.1.2.13
ln -s libz.so.1.2.13 "$W/usr/lib/libz.so.1"
for l in libmbedcrypto.so.2.28.3:libmbedcrypto.so.7:libmbedcrypto7 libmbedx509.so.2.28.3:libmbedx509.so.1:libmbedx509-1 libmbedtls.so.2.28.3:libmbedtls.so.14:libmbedtls14 libjson-c.so.5.2.0:libjson-c.so.5:libjson-c5; do
  IFS=: read -r real soname pkg <<<"$l"
  if [ -e "$M/$pkg/usr/lib/$MT/$real" ]; then from=usr/lib/$MT/$real; else from=lib/$MT/$real; fi
  take_as "$M/$pkg" "$W" "$from" usr/lib/$real
  ln -s "$real" "$W/usr/lib/$soname"
done
take "$M/dnsmasq-base" "$W" usr/sbin/dnsmasq
take "$M/dropbear-bin" "$W" usr/sbin/dropbear
install -m 755 "$BLD/uhttpd" "$W/usr/sbin/uhttpd"
install -m 755 "$BLD/sysinfo" "$W/usr/bin/sysinfo"
busybox_links "$W"

cat >"$W/etc/openwrt_release" <<'EOF'
DISTRIB_ID='OpenWrt'
DISTRIB_RELEASE='23.05.0'
DISTRIB_REVISION='r23497-6637af95aa'
DISTRIB_TARGET='ramips/mt7621'
DISTRIB_ARCH='mipsel_24kc'
DISTRIB_DESCRIPTION='OpenWrt 23.05.0 r23497-6637af95aa'
DISTRIB_TAINTS='no-all busybox'
EOF
cat >"$W/etc/os-release" <<'EOF'
NAME="OpenWrt"
VERSION="23.05.0"
ID="openwrt"
ID_LIKE="lede openwrt"
PRETTY_NAME="OpenWrt 23.05.0"
VERSION_ID="23.05.0"
HOME_URL="https://openwrt.org/"
BUG_URL="https://bugs.openwrt.org/"
SUPPORT_URL="https://forum.openwrt.org/"
BUILD_ID="r23497-6637af95aa"
OPENWRT_BOARD="ramips/mt7621"
OPENWRT_ARCH="mipsel_24kc"
OPENWRT_TAINTS="no-all busybox"
OPENWRT_DEVICE_MANUFACTURER="OpenWrt"
OPENWRT_DEVICE_MANUFACTURER_URL="https://openwrt.org/"
OPENWRT_DEVICE_PRODUCT="Generic"
OPENWRT_DEVICE_REVISION="v0"
OPENWRT_RELEASE="OpenWrt 23.05.0 r23497-6637af95aa"
EOF
echo '23.05.0' >"$W/etc/openwrt_version"
cat >"$W/etc/banner" <<'EOF'
  _______                     ________        __
 |       |.-----.-----.-----.|  |  |  |.----.|  |_
 |   -   ||  _  |  -__|     ||  |  |  ||   _||   _|
 |_______||   __|_____|__|__||________||__|  |____|
          |__| W I R E L E S S   F R E E D O M
 -----------------------------------------------------
 OpenWrt 23.05.0, r23497-6637af95aa
 -----------------------------------------------------
EOF
cat >"$W/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/ash
daemon:*:1:1:daemon:/var:/bin/false
ftp:*:55:55:ftp:/home/ftp:/bin/false
network:*:101:101:network:/var:/bin/false
nobody:*:65534:65534:nobody:/var:/bin/false
dnsmasq:x:453:453:dnsmasq:/var/run/dnsmasq:/bin/false
EOF
cat >"$W/etc/group" <<'EOF'
root:x:0:
daemon:x:1:
network:x:101:
nogroup:x:65534:
dnsmasq:x:453:dnsmasq
EOF
cat >"$W/etc/shadow" <<'EOF'
root:::0:99999:7:::
daemon:*:0:0:99999:7:::
ftp:*:0:0:99999:7:::
network:*:0:0:99999:7:::
nobody:*:0:0:99999:7:::
dnsmasq:x:0:0:99999:7:::
EOF
chmod 600 "$W/etc/shadow"
cat >"$W/etc/inittab" <<'EOF'
::sysinit:/etc/init.d/rcS S boot
::shutdown:/etc/init.d/rcS K shutdown
::askconsole:/usr/libexec/login.sh
EOF
cat >"$W/etc/init.d/rcS" <<'EOF'
#!/bin/sh
# run the init scripts in order (OpenWrt-style rcS)
for i in /etc/rc.d/$1*; do
	[ -x "$i" ] && "$i" "$2" 2>&1
done
EOF
cat >"$W/etc/init.d/uhttpd" <<'EOF'
#!/bin/sh /etc/rc.common
START=50
STOP=50
start() {
	/usr/sbin/uhttpd -f -h /www -r OpenWrt -p 0.0.0.0:80 &
}
EOF
cat >"$W/etc/init.d/dropbear" <<'EOF'
#!/bin/sh /etc/rc.common
START=19
start() {
	/usr/sbin/dropbear -F -P /var/run/dropbear.pid -p 22 &
}
EOF
chmod 755 "$W/etc/init.d/rcS" "$W/etc/init.d/uhttpd" "$W/etc/init.d/dropbear"
cat >"$W/etc/config/system" <<'EOF'
config system
	option hostname 'OpenWrt'
	option timezone 'UTC'
	option ttylogin '0'
	option log_size '64'
EOF
cat >"$W/etc/config/dhcp" <<'EOF'
config dnsmasq
	option domainneeded '1'
	option localise_queries '1'
	option local '/lan/'
	option domain 'lan'

config dhcp 'lan'
	option interface 'lan'
	option start '100'
	option limit '150'
	option leasetime '12h'
EOF
echo '<html><head><meta http-equiv="refresh" content="0; URL=cgi-bin/luci/"></head></html>' >"$W/www/index.html"

# opkg status: OpenWrt package names, versions matching the binaries that are in the image
pkgver() { dpkg-deb -f "$(deb_of "$DL/mipsel" "$1")" Version | sed -e 's/^[0-9]*://' -e 's/[+~].*//' -e 's/\.dfsg//'; }
V_MUSL=$(pkgver musl); V_GLIBC=$(pkgver libc6); V_BB=$(pkgver busybox); V_Z=$(pkgver zlib1g)
V_MBED=$(pkgver libmbedtls14); V_DNS=$(pkgver dnsmasq-base); V_DB=$(pkgver dropbear-bin); V_JSONC=$(pkgver libjson-c5)
opkg_stanza() {  # name version depends
  printf 'Package: %s\nVersion: %s\n' "$1" "$2"
  [ -n "$3" ] && printf 'Depends: %s\n' "$3"
  printf 'Status: install user installed\nArchitecture: mipsel_24kc\nInstalled-Time: %s\n\n' "$OPENWRT_EPOCH"
}
{
  opkg_stanza busybox       "$V_BB"   "libc, glibc"
  opkg_stanza dnsmasq       "$V_DNS"  "libc, glibc"
  opkg_stanza dropbear      "$V_DB"   "libc, glibc, zlib"
  opkg_stanza glibc         "$V_GLIBC" ""
  opkg_stanza libc          "$V_MUSL" ""
  opkg_stanza libjson-c5    "$V_JSONC" "libc, glibc"
  opkg_stanza libmbedtls14  "$V_MBED" "libc, glibc"
  opkg_stanza sysinfo       "1.0-1"   "libc"
  opkg_stanza uhttpd        "1.0-1"   "libc, glibc, libmbedtls14, zlib"
  opkg_stanza zlib          "$V_Z"    "libc, glibc"
} >"$W/usr/lib/opkg/status"

log "assembling openwrt-mipsel.bin"
make_kernel mips-5.10.176 "$MIPS_BANNER" "$WORK/mips-kernel.bin"
xz --format=lzma -9 -c "$WORK/mips-kernel.bin" >"$WORK/mips-kernel.bin.lzma"
SOURCE_DATE_EPOCH=$OPENWRT_EPOCH mkimage -A mips -O linux -T kernel -C lzma -a 0x80000000 -e 0x80000000 \
  -n "MIPS OpenWrt Linux-5.10.176" -d "$WORK/mips-kernel.bin.lzma" "$WORK/mips-uImage" >/dev/null
mksqfs "$W" "$WORK/mips-rootfs.sqfs" gzip "$OPENWRT_EPOCH" -b 131072

MIPS_UIMAGE_OFF=$((0x20000))
MIPS_SQFS_OFF=$(roundup $(( MIPS_UIMAGE_OFF + $(fsize "$WORK/mips-uImage") )) 65536)
IMG="$WORK/openwrt-mipsel.bin"
ff "$MIPS_UIMAGE_OFF" >"$IMG"
cat "$WORK/mips-uImage" >>"$IMG"
pad_file_to "$IMG" "$MIPS_SQFS_OFF"
cat "$WORK/mips-rootfs.sqfs" >>"$IMG"
pad_file_to "$IMG" "$(roundup "$(fsize "$IMG")" 65536)"
cp "$IMG" "$OUT/openwrt-mipsel.bin"

# ===========================================================================
# Bad inputs
# ===========================================================================
log "building bad samples"
mkdir -p "$OUT/bad"
# a small router variant ("mini"): 0x10000 boot region of 0xFF, the same uImage as router-armhf.bin,
# then a small xz squashfs (libresolv.so.2 + a few /etc files): used for truncated.bin and bad-uimage-crc.bin
MINI_BOOT=$((0x10000))
S="$WORK/rootfs-mini"; mkdir -p "$S/etc/init.d" "$S/tmp" "$S/proc"
take "$A/libc6"   "$S" lib/$T/libresolv.so.2
cp "$R/etc/banner" "$R/etc/os-release" "$R/etc/hostname" "$S/etc/"
cp -a "$R/etc/init.d/rcS" "$S/etc/init.d/rcS"
mksqfs "$S" "$WORK/mini.sqfs" xz "$ROUTER_EPOCH" -b 131072
MINI="$WORK/mini.bin"
ff "$MINI_BOOT" >"$MINI"
cat "$WORK/arm-uImage" >>"$MINI"
pad_file_to "$MINI" "$(roundup "$(fsize "$MINI")" 65536)"
MINI_SQFS_OFF=$(fsize "$MINI")
cat "$WORK/mini.sqfs" >>"$MINI"
pad_file_to "$MINI" "$(roundup "$(fsize "$MINI")" 65536)"

# truncated.bin: cut in the middle of the squashfs
head -c $(( MINI_SQFS_OFF + $(fsize "$WORK/mini.sqfs") / 2 )) "$MINI" >"$OUT/bad/truncated.bin"

# bad-uimage-crc.bin: flip one byte of the uImage name field (header offset 32+) -> header CRC mismatch
cp "$MINI" "$OUT/bad/bad-uimage-crc.bin"
off=$(( MINI_BOOT + 32 + 4 ))   # 'O' of "ARM OpenWrt ..." -> 'o'
printf 'o' | dd of="$OUT/bad/bad-uimage-crc.bin" bs=1 seek="$off" conv=notrunc status=none

# bad-squashfs-superblock.bin / bad-squashfs-bytes-used.bin: 1-file squashfs with an impossible superblock
B="$WORK/rootfs-one"; mkdir -p "$B"
echo 'hello from a one-file squashfs' >"$B/hello.txt"
mksqfs "$B" "$WORK/one.sqfs" gzip "$ROUTER_EPOCH" -b 131072
cp "$WORK/one.sqfs" "$OUT/bad/bad-squashfs-superblock.bin"
printf '\x03\x00\x00\x00' | dd of="$OUT/bad/bad-squashfs-superblock.bin" bs=1 seek=12 conv=notrunc status=none   # block_size = 3
cp "$WORK/one.sqfs" "$OUT/bad/bad-squashfs-bytes-used.bin"
printf '\x00\x00\x10\x00\x00\x00\x00\x00' | dd of="$OUT/bad/bad-squashfs-bytes-used.bin" bs=1 seek=40 conv=notrunc status=none  # bytes_used = 1 MiB > file

cat >"$OUT/bad/not-firmware.txt" <<'EOF'
This is not a firmware image.
It is a short plain-text note that lives next to the broken samples so that
the auditor can be tested on input that has no boot loader, no uImage header
and no file system in it at all. Any tool given this file should say so
politely and exit with an error instead of crashing.
EOF

# ---------------------------------------------------------------------------
log "layout"
printf 'router-armhf.bin   size=%d boot=0x0(len 0x%x) uImage=0x%x(len %d) squashfs=0x%x(len %d)\n' \
  "$(fsize "$OUT/router-armhf.bin")" "$BOOT_SIZE" "$ARM_UIMAGE_OFF" "$(fsize "$WORK/arm-uImage")" "$ARM_SQFS_OFF" "$(fsize "$WORK/arm-rootfs.sqfs")"
printf 'openwrt-mipsel.bin size=%d uImage=0x%x(len %d) squashfs=0x%x(len %d)\n' \
  "$(fsize "$OUT/openwrt-mipsel.bin")" "$MIPS_UIMAGE_OFF" "$(fsize "$WORK/mips-uImage")" "$MIPS_SQFS_OFF" "$(fsize "$WORK/mips-rootfs.sqfs")"
printf 'mini (bad/)        size=%d uImage=0x%x squashfs=0x%x(len %d)\n' \
  "$(fsize "$MINI")" "$MINI_BOOT" "$MINI_SQFS_OFF" "$(fsize "$WORK/mini.sqfs")"
( cd "$OUT" && sha256sum router-armhf.bin openwrt-mipsel.bin bad/* )
du -sh "$OUT"

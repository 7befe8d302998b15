#!/usr/bin/env bash
# Rebuilds the `other-build` rows of devset.tsv: upstream trees from Debian
# source packages, built here with a cross toolchain, not Debian's packaging.
# Not run by the tests (samples/ holds the trimmed results); kept so a
# maintainer can rebuild or add rows.
#
#   build-cross.sh fetch SRC                  apt-get source into SRC (private deb-src list)
#   build-cross.sh build SRC OUT TC [PRODUCT...]
#
# TC: musl (musl-gcc, amd64), armhf (arm-linux-gnueabihf-gcc 12, glibc),
# mipsel (mipsel-linux-gnu-gcc 12, glibc). Needs: gcc-arm-linux-gnueabihf
# gcc-mipsel-linux-gnu musl-tools linux-libc-dev cmake bison flex tcl
# pkg-config. Every build uses -Os (what vendor SDKs use). Results land in
# OUT/TC/PRODUCT/<file>; put them at build/TC/... under the sample cache and
# run trim.py.
set -u

# Source packages (suite-qualified) this script builds from.
SOURCES="busybox/bookworm busybox/bullseye dropbear/bookworm dnsmasq/bookworm
openssl/bullseye openssl/bookworm lighttpd/bookworm wpa/bookworm iptables/bookworm
mosquitto/bookworm sqlite3/bookworm lua5.4/bookworm json-c/bookworm expat/bookworm
libpcap/bookworm libxml2/bookworm libpng1.6/bookworm lz4/bookworm libzstd/bookworm
xz-utils/bookworm pcre2/bookworm libevent/bookworm nghttp2/bookworm c-ares/bookworm
e2fsprogs/bookworm ethtool/bookworm libnl3/bookworm jansson/bookworm socat/bookworm
xl2tpd/bookworm zlib/bookworm bzip2/bookworm"

fetch() {
    local src=$1 apt
    mkdir -p "$src/apt/lists/partial"
    printf 'deb-src http://deb.debian.org/debian %s main\n' bookworm bullseye trixie >"$src/apt/sources.list"
    apt=(-o "Dir::Etc::SourceList=$src/apt/sources.list" -o Dir::Etc::SourceParts=/dev/null
        -o "Dir::State::Lists=$src/apt/lists")
    apt-get "${apt[@]}" update
    for p in $SOURCES; do
        mkdir -p "$src/${p%/*}_${p#*/}"
        (cd "$src/${p%/*}_${p#*/}" && apt-get "${apt[@]}" source -qq "$p") || echo "FAILED: $p" >&2
    done
}

# The upstream release tarball of a source package (Debian's patches are not applied).
orig() { ls "$SRC/$1"/*.orig.tar.* | grep -v '\.asc$' | head -1; }

setup_tc() {
    case $TC in
    musl)
        HOST=x86_64-linux-musl CC=musl-gcc AR=ar RANLIB=ranlib STRIP=strip CROSS=
        # musl-gcc brings no kernel headers: borrow the host's uapi headers.
        KH=$OUT/kernel-headers
        mkdir -p "$KH"
        for d in linux asm-generic mtd; do ln -sfn /usr/include/$d "$KH/$d"; done
        ln -sfn /usr/include/x86_64-linux-gnu/asm "$KH/asm"
        EXTRA="-idirafter $KH"
        OSSL1=linux-x86_64 ;;
    armhf)
        HOST=arm-linux-gnueabihf CROSS=arm-linux-gnueabihf- EXTRA= OSSL1=linux-armv4 ;;
    mipsel)
        HOST=mipsel-linux-gnu CROSS=mipsel-linux-gnu- EXTRA= OSSL1=linux-mips32 ;;
    *) echo "unknown toolchain $TC" >&2; exit 2 ;;
    esac
    if [ -n "$CROSS" ]; then
        CC=${CROSS}gcc AR=${CROSS}ar RANLIB=${CROSS}ranlib STRIP=${CROSS}strip
    fi
    CFLAGS="-Os $EXTRA"
    export CC AR RANLIB STRIP CFLAGS
    CMAKE_TC=(-DCMAKE_SYSTEM_NAME=Linux -DCMAKE_C_COMPILER="$CC" -DCMAKE_AR="$(command -v "$AR")"
        -DCMAKE_C_FLAGS="$CFLAGS" -DCMAKE_BUILD_TYPE=MinSizeRel -DBUILD_TESTING=OFF)
}

# Fresh copy of a product's tree for this toolchain; cd into it.
work() {
    local dir=$OUT/work/$TC/$1
    rm -rf "$dir"
    mkdir -p "$dir"
    cd "$dir"
    tar -xf "$(orig "$2")" --strip-components=1
}

keep() { # keep PRODUCT FILE...: copy the built files (symlinks resolved) to OUT/TC/PRODUCT/
    local p=$1
    shift
    mkdir -p "$OUT/$TC/$p"
    for f in "$@"; do cp -L "$f" "$OUT/$TC/$p/" || return 1; done
}

conf() { ./configure --host="$HOST" --disable-nls "$@" >conf.log 2>&1; }

b_busybox() {
    work busybox busybox_bookworm
    make -s defconfig >/dev/null
    # tc needs kernel CBQ definitions removed from 6.x headers.
    sed -i 's/^CONFIG_TC=y/# CONFIG_TC is not set/' .config
    if [ "$TC" = musl ]; then
        # The banner without its build date: "BusyBox v1.35.0 () multi-call binary".
        export KCONFIG_NOTIMESTAMP=1
    fi
    make -s CROSS_COMPILE="$CROSS" CC="$CC" EXTRA_CFLAGS="$EXTRA" busybox -j2 >build.log 2>&1
    keep busybox busybox
}

b_dropbear_old() {
    work dropbear-2020.81 dropbear_bullseye
    conf --disable-zlib --disable-pam --disable-lastlog --disable-utmp --disable-utmpx \
        --disable-wtmp --disable-wtmpx
    echo '#define DROPBEAR_SVR_PASSWORD_AUTH 0' >localoptions.h
    make -j2 PROGRAMS="dropbear" >build.log 2>&1
    keep dropbear-2020.81 dropbear
}

b_busybox_old() {
    work busybox-1.30.1 busybox_bullseye
    make -s defconfig >/dev/null
    sed -i 's/^CONFIG_TC=y/# CONFIG_TC is not set/' .config
    # glibc 2.31 dropped stime(), which date and rdate of 1.30 call.
    printf '%s\n' '#include <time.h>' \
        'static inline int bb_stime(const time_t *t) { struct timespec ts = { *t, 0 }; return clock_settime(CLOCK_REALTIME, &ts); }' \
        '#define stime bb_stime' >stime.h
    make -s CROSS_COMPILE="$CROSS" CC="$CC" EXTRA_CFLAGS="$EXTRA -include $PWD/stime.h" busybox -j2 \
        >build.log 2>&1
    keep busybox-1.30.1 busybox
}

b_dropbear() {
    work dropbear dropbear_bookworm
    conf --disable-zlib --disable-pam --disable-lastlog --disable-utmp --disable-utmpx \
        --disable-wtmp --disable-wtmpx
    # The cross sysroots have no libcrypt: public-key authentication only.
    echo '#define DROPBEAR_SVR_PASSWORD_AUTH 0' >localoptions.h
    make -j2 PROGRAMS="dropbear dbclient" >build.log 2>&1
    keep dropbear dropbear dbclient
}

b_bzip2() {
    # Upstream's Makefile links the bzip2 program with libbz2.a (Debian's
    # packaging links it with libbz2.so.1.0, so there the version is in the library).
    work bzip2 bzip2_bookworm
    make -j2 CC="$CC" CFLAGS="$CFLAGS -D_FILE_OFFSET_BITS=64" AR="$AR" RANLIB="$RANLIB" bzip2 \
        >build.log 2>&1
    keep bzip2 bzip2
}

b_dnsmasq() {
    work dnsmasq dnsmasq_bookworm
    make -j2 CC="$CC" COPTS="$EXTRA" CFLAGS="-Os" >build.log 2>&1
    keep dnsmasq src/dnsmasq
}

ossl() { # ossl DIR SOURCE-PACKAGE OPTIONS...: libcrypto and libssl
    local dir=$1 pkg=$2 cc=gcc
    shift 2
    work "$dir" "$pkg"
    # Configure prefixes CC with --cross-compile-prefix: it gets the bare name.
    [ "$TC" = musl ] && cc=musl-gcc
    env CC=$cc AR=ar RANLIB=ranlib ./Configure "$OSSL1" shared no-tests no-afalgeng "$@" -Os \
        $EXTRA ${CROSS:+--cross-compile-prefix="$CROSS"} >conf.log 2>&1
    env CC=$cc AR=ar RANLIB=ranlib make -j2 build_libs >build.log 2>&1
}

b_openssl_111() {
    ossl openssl-1.1.1 openssl_bullseye
    keep openssl-1.1.1 libcrypto.so.1.1 libssl.so.1.1
}

b_openssl_30() {
    ossl openssl-3.0 openssl_bookworm
    keep openssl-3.0 libcrypto.so.3 libssl.so.3
}

b_lighttpd() {
    work lighttpd lighttpd_bookworm
    conf --without-pcre2 --without-zlib --without-bzip2 --without-zstd --without-brotli \
        --without-nettle --without-openssl
    make -j2 >build.log 2>&1
    keep lighttpd src/lighttpd
}

b_hostapd() {
    work hostapd wpa_bookworm
    cd hostapd && cp defconfig .config
    make -j2 CC="$CC" hostapd_cli >build.log 2>&1
    keep hostapd hostapd_cli
}

b_wpa_supplicant() {
    work wpa_supplicant wpa_bookworm
    cd wpa_supplicant && cp defconfig .config
    make -j2 CC="$CC" wpa_cli >build.log 2>&1
    keep wpa_supplicant wpa_cli
}

b_iptables() {
    work iptables iptables_bookworm
    conf --disable-nftables --disable-connlabel
    make -j2 >build.log 2>&1
    keep iptables iptables/.libs/xtables-legacy-multi
}

b_mosquitto() {
    work mosquitto mosquitto_bookworm
    local opts=(WITH_TLS=no WITH_CJSON=no WITH_DOCS=no WITH_SRV=no WITH_WEBSOCKETS=no
        WITH_SYSTEMD=no CC="$CC" CFLAGS="$CFLAGS")
    # The C library and the broker only (the C++ wrapper needs a cross g++).
    make -j2 -C lib "${opts[@]}" libmosquitto.so.1 >build.log 2>&1 &&
        make -j2 -C src "${opts[@]}" mosquitto >>build.log 2>&1
    keep mosquitto src/mosquitto lib/libmosquitto.so.1
}

b_sqlite() {
    work sqlite sqlite3_bookworm
    conf --disable-tcl --disable-readline --disable-editline
    make -j2 sqlite3 >build.log 2>&1
    keep sqlite sqlite3
}

b_lua() {
    work lua lua5.4_bookworm
    make -C src -j2 linux CC="$CC -std=gnu99" AR="$AR rcu" RANLIB="$RANLIB" MYCFLAGS="$CFLAGS" \
        >build.log 2>&1
    keep lua src/lua
}

b_json_c() {
    work json-c json-c_bookworm
    mkdir b && cd b
    cmake .. "${CMAKE_TC[@]}" -DDISABLE_WERROR=ON >conf.log 2>&1
    make -j2 json-c >build.log 2>&1
    keep json-c libjson-c.so.5.2.0
}

b_expat() {
    work expat expat_bookworm
    mkdir b && cd b
    cmake ../expat "${CMAKE_TC[@]}" -DEXPAT_BUILD_TOOLS=OFF -DEXPAT_BUILD_EXAMPLES=OFF \
        -DEXPAT_BUILD_TESTS=OFF -DEXPAT_BUILD_DOCS=OFF >conf.log 2>&1
    make -j2 >build.log 2>&1
    keep expat libexpat.so.1.8.10
}

b_libpcap() {
    work libpcap libpcap_bookworm
    conf --with-pcap=linux --disable-dbus --disable-rdma --without-libnl --disable-bluetooth \
        --disable-usb
    make -j2 shared >build.log 2>&1
    keep libpcap libpcap.so.1.10.3
}

b_libxml2() {
    work libxml2 libxml2_bookworm
    conf --without-python --without-lzma --without-zlib --without-icu --without-readline
    make -j2 libxml2.la >build.log 2>&1
    keep libxml2 .libs/libxml2.so.2.9.14
}

zlib_prefix() { # zlib for products that need it, installed under OUT/work/TC/zlib-prefix
    ZP=$OUT/work/$TC/zlib-prefix
    [ -f "$ZP/lib/libz.a" ] && return 0
    (work zlib zlib_bookworm && CHOST=$HOST ./configure --static --prefix="$ZP" >conf.log 2>&1 &&
        make -j2 install >build.log 2>&1)
}

b_libpng() {
    zlib_prefix
    work libpng libpng1.6_bookworm
    conf CPPFLAGS="-I$ZP/include" LDFLAGS="-L$ZP/lib"
    make -j2 libpng16.la >build.log 2>&1
    keep libpng .libs/libpng16.so.16.39.0
}

b_lz4() {
    work lz4 lz4_bookworm
    make -C lib -j2 CC="$CC" liblz4.so.1.9.4 >build.log 2>&1 || make -C lib -j2 CC="$CC" lib >>build.log 2>&1
    keep lz4 lib/liblz4.so.1.9.4
}

b_zstd() {
    work zstd libzstd_bookworm
    make -C programs -j2 CC="$CC" HAVE_ZLIB=0 HAVE_LZMA=0 HAVE_LZ4=0 zstd >build.log 2>&1
    keep zstd programs/zstd
}

b_xz() {
    work xz xz-utils_bookworm
    conf --disable-shared --disable-doc --disable-scripts --disable-lzmadec --disable-lzmainfo \
        --disable-xzdec
    make -j2 >build.log 2>&1
    keep xz src/xz/xz
}

b_pcre2() {
    work pcre2 pcre2_bookworm
    conf
    make -j2 libpcre2-8.la >build.log 2>&1
    keep pcre2 .libs/libpcre2-8.so.0.11.2
}

b_libevent() {
    work libevent libevent_bookworm
    conf --disable-openssl --disable-samples --disable-libevent-regress
    # event-config.h is a BUILT_SOURCE, made only by the default target.
    make include/event2/event-config.h >build.log 2>&1 && make -j2 libevent.la >>build.log 2>&1
    keep libevent .libs/libevent-2.1.so.7.0.1
}

b_nghttp2() {
    work nghttp2 nghttp2_bookworm
    mkdir b && cd b
    cmake .. "${CMAKE_TC[@]}" -DENABLE_LIB_ONLY=ON -DENABLE_STATIC_LIB=OFF >conf.log 2>&1
    make -j2 nghttp2 >build.log 2>&1
    keep nghttp2 lib/libnghttp2.so.14.24.1
}

b_c_ares() {
    work c-ares c-ares_bookworm
    conf
    make -j2 -C src/lib >build.log 2>&1
    keep c-ares src/lib/.libs/libcares.so.2.5.1
}

b_e2fsprogs() {
    work e2fsprogs e2fsprogs_bookworm
    conf --enable-elf-shlibs --disable-fuse2fs --disable-uuidd --disable-fsck
    make -j2 libs >build.log 2>&1
    keep e2fsprogs lib/libext2fs.so.2.4
}

b_ethtool() {
    work ethtool ethtool_bookworm
    conf --disable-netlink
    make -j2 >build.log 2>&1
    keep ethtool ethtool
}

b_libnl() {
    work libnl libnl3_bookworm
    conf --disable-cli
    make -j2 lib/libnl-3.la >build.log 2>&1
    keep libnl lib/.libs/libnl-3.so.200.26.0
}

b_jansson() {
    work jansson jansson_bookworm
    mkdir b && cd b
    cmake .. "${CMAKE_TC[@]}" -DJANSSON_BUILD_SHARED_LIBS=ON -DJANSSON_BUILD_DOCS=OFF \
        -DJANSSON_WITHOUT_TESTS=ON -DJANSSON_EXAMPLES=OFF >conf.log 2>&1
    make -j2 >build.log 2>&1
    keep jansson lib/libjansson.so.4.14.0
}

b_socat() {
    work socat socat_bookworm
    conf --disable-openssl --disable-readline
    make -j2 socat >build.log 2>&1
    keep socat socat
}

b_xl2tpd() {
    work xl2tpd xl2tpd_bookworm
    make -j2 CC="$CC" CFLAGS="$CFLAGS -DLINUX -DSANITY -DIP_ALLOCATION" xl2tpd >build.log 2>&1
    keep xl2tpd xl2tpd
}

ALL="busybox busybox_old dropbear dropbear_old bzip2 dnsmasq lighttpd hostapd wpa_supplicant iptables mosquitto
sqlite lua json_c expat libpcap libxml2 libpng lz4 zstd xz pcre2 libevent nghttp2 c_ares
e2fsprogs ethtool libnl jansson socat xl2tpd openssl_111 openssl_30"

case ${1:-} in
fetch) fetch "$(realpath -m "$2")" ;;
build)
    SRC=$(realpath "$2") OUT=$(realpath -m "$3") TC=$4
    shift 4
    setup_tc
    for p in ${*:-$ALL}; do
        # A build that fails leaves no file for keep(), which fails the step.
        if ("b_$p"); then echo "ok     $TC $p"; else echo "FAILED $TC $p"; fi
    done ;;
*) sed -n '2,15p' "$0"; exit 2 ;;
esac

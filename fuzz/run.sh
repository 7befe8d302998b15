#!/usr/bin/env bash
# Runs every fuzz target (or those named) for SECONDS each, two at a time,
# seeding each corpus with the matching fixtures from tests/fixtures/.
# Needs cargo-fuzz and a nightly toolchain (or RUSTC_BOOTSTRAP=1 on stable).
# Usage: fuzz/run.sh [SECONDS] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")"
secs=${1:-180}
shift || true
targets=("$@")
[ ${#targets[@]} -eq 0 ] && mapfile -t targets < <(cargo +nightly fuzz list)
fx=../tests/fixtures
seed() {
    mkdir -p "corpus/$1"
    case $1 in
        cpio) cp $fx/*.cpio "corpus/$1/" ;;
        tar) cp $fx/*.tar "corpus/$1/" ;;
        zip) cp $fx/*.zip "corpus/$1/" ;;
        ar) cp $fx/*.deb "corpus/$1/" ;;
        trx) cp $fx/*.trx "corpus/$1/" ;;
        fit) cp $fx/*.fit $fx/plain.dtb "corpus/$1/" ;;
        sparse) cp $fx/*.simg "corpus/$1/" ;;
        ubi) cp $fx/*.ubi "corpus/$1/" ;;
        ubifs) cp $fx/*.ubifs "corpus/$1/" ;;
        lzma) cp $fx/text.lzma "corpus/$1/" ;;
        bzip2) cp $fx/text.bz2 "corpus/$1/" ;;
        zstd) cp $fx/text.zst "corpus/$1/" ;;
        lz4) cp $fx/text.lz4 "corpus/$1/" ;;
        gzip) cp $fx/disk-mbr.img.gz $fx/rootfs-ext4.tar.gz "corpus/$1/" ;;
        uimage) cp $fx/uimage-jffs2.bin "corpus/$1/" ;;
        # No .xz fixture: one is made here when xz-utils is installed.
        xz) if command -v xz > /dev/null; then xz -c $fx/text.txt > "corpus/$1/text.xz"; fi ;;
        ext)
            cp $fx/ext2.img $fx/ext4.img $fx/ext4-inline.img "corpus/$1/" && gzip -dc $fx/ext3.img.gz > "corpus/$1/ext3.img"
            # 64 KiB images mutate far faster than the 640 KiB fixtures (e2fsprogs).
            if command -v mke2fs > /dev/null; then
                local t
                t=$(mktemp -d) && mkdir -p "$t/d/e" && printf 'hi\n' > "$t/a" && ln -s a "$t/l"
                ln -s "$(printf 'y%.0s' $(seq 70))" "$t/d/long" && head -c 10240 $fx/text.txt > "$t/d/e/f"
                for o in "-t ext2" "-t ext4 -O ^has_journal,inline_data -I 256"; do
                    truncate -s 64K "$t.img" && mke2fs -q -F -b 1024 -N 32 $o -d "$t" "$t.img" 2>/dev/null \
                        && cp "$t.img" "corpus/$1/small-$(echo $o | cut -d" " -f2).img"
                    rm -f "$t.img"
                done
                rm -rf "$t"
            fi ;;
        cramfs) cp $fx/cramfs-*.img "corpus/$1/" ;;
        romfs) cp $fx/romfs.img "corpus/$1/" ;;
        lz4_legacy) cp $fx/text.lz4-legacy "corpus/$1/" ;;
        zlib) cp $fx/text.zlib "corpus/$1/" ;;
        jffs2) cp $fx/jffs2-*.img "corpus/$1/" ;;
        squashfs) cp $fx/*.sqfs "corpus/$1/" ;;
        squashfs_old) cp $fx/sqfs-old/*.sqfs "corpus/$1/" ;;
        matter_ota) cp $fx/matter-ota.bin "corpus/$1/" ;;
        sevenzip) cp $fx/7z/*.7z "corpus/$1/" ;;
        android_payload) cp $fx/android-payload.bin "corpus/$1/" ;;
        yaffs2) for f in $fx/yaffs2/*.gz; do gzip -dc "$f" > "corpus/$1/$(basename "$f" .gz)"; done ;;
        dlink_shrs) cp $fx/encrypted/dlink-shrs.bin "corpus/$1/" ;;
        dlink_encrpted_img) head -c 4096 $fx/encrypted/dlink-encrpted.img > "corpus/$1/head.img" ;;
        sealed) cp $fx/encrypted/openssl-salted.bin $fx/encrypted/pgp-message.asc $fx/encrypted/luks1-head.bin "corpus/$1/" ;;
        uefi) cp $fx/uefi.fv $fx/fwuefi/*.fv "corpus/$1/" ;;
        option_rom) cp $fx/optionrom-efi.rom ../tests/data/firmware/vgabios-stdvga.bin "corpus/$1/" ;;
        tiano) cp $fx/text.efi $fx/mixed.tiano "corpus/$1/" ;;
        dtb) cp $fx/*.dtb "corpus/$1/" ;;
        ihex) cp $fx/mcu.hex "corpus/$1/" ;;
        lzop) cp $fx/*.lzo "corpus/$1/" ;;
        qcow2) cp $fx/*.qcow2 "corpus/$1/" ;;
        erofs) cp $fx/erofs*.img "corpus/$1/" ;;
        fat) gzip -dc $fx/fat12.img.gz > "corpus/$1/fat12.img" ;;
        iso9660) for f in $fx/*.iso.gz; do gzip -dc "$f" > "corpus/$1/$(basename "$f" .gz)"; done ;;
        srec) cp $fx/mcu.srec "corpus/$1/" ;;
        mbr) gzip -dc $fx/disk-mbr.img.gz > "corpus/$1/disk-mbr.img" ;;
        gpt) gzip -dc $fx/disk-gpt.img.gz > "corpus/$1/disk-gpt.img" && gzip -dc $fx/disk-gpt4k.img.gz > "corpus/$1/disk-gpt4k.img" ;;
        android_boot) cp $fx/android-boot-v*.img "corpus/$1/" ;;
        android_vendor_boot) cp $fx/android-vendor-boot-v*.img "corpus/$1/" ;;
        android_super) cp $fx/android-super.img "corpus/$1/" ;;
        unpack) find $fx -maxdepth 1 -type f -exec cp {} "corpus/$1/" \; ;;
        uefi_capsule) cp $fx/fwuefi/*.cap "corpus/$1/" ;;
        intel_microcode) cp ../tests/data/intel-ucode/0f-04-0a "corpus/$1/" && head -c 8192 ../tests/data/intel-ucode/06-c5-02 > "corpus/$1/head-06-c5-02" ;;
        cbfs)
            # Whole images first: `gzip | head` fails under pipefail when head closes the pipe
            # (the 4 KiB at 20 KiB are the fmap image's COREBOOT region).
            gzip -dc $fx/fwuefi/cbfs-legacy.rom.gz > "corpus/$1/legacy.rom" && gzip -dc $fx/fwuefi/cbfs-fmap.rom.gz > "corpus/$1/fmap.rom"
            head -c 8192 "corpus/$1/legacy.rom" > "corpus/$1/legacy-head.rom" && dd if="corpus/$1/fmap.rom" of="corpus/$1/fmap-coreboot.rom" bs=4096 skip=5 count=1 status=none
            rm -f "corpus/$1/legacy.rom" "corpus/$1/fmap.rom" ;;
        fmap) cp $fx/fwuefi/layout.fmap "corpus/$1/" ;;
        verified_boot) cp $fx/vboot-*.bin "corpus/$1/" ;;
        arj) cp $fx/arj/* "corpus/$1/" ;;
        arcadyan) cp $fx/arcadyan.bin "corpus/$1/" ;;
        *) ;;
    esac
}
cargo +nightly fuzz build -O
# The binaries are run directly: `cargo fuzz run` rebuilds first, so a source
# edit made while a long run is going would rebuild (minutes of both cores)
# in the middle of the next target's time, and that target would test code
# the others did not.
bin="${CARGO_TARGET_DIR:-target}/$(rustc +nightly -vV | sed -n 's/^host: //p')/release"
mkdir -p logs
run() {
    seed "$1"
    [ -n "$(ls -A "corpus/$1")" ] || echo "$1: no seed in tests/fixtures, starting from an empty corpus" >&2
    mkdir -p "artifacts/$1"
    "$bin/$1" "corpus/$1" -artifact_prefix="artifacts/$1/" -max_total_time="$secs" -rss_limit_mb=2048 \
        -max_len=262144 > "logs/$1.log" 2>&1 || echo "$1: CRASH (see logs/$1.log and artifacts/$1)"
    grep -E '^#[0-9]+.*(DONE|pulse)' "logs/$1.log" | tail -1 | sed "s/^/$1: /"
}
i=0
for t in "${targets[@]}"; do
    run "$t" &
    i=$((i + 1))
    if [ $((i % 2)) -eq 0 ]; then wait; fi
done
wait

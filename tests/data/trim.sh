#!/bin/sh
# Rebuilds tests/data/ from the full public data sets, which SHARED names: a
# directory holding rustsec-advisory-db/, nvd/ and osv/ at the commits
# README.md here lists, with each source's licence. Only maintainers need
# this: the trimmed copy is committed, and the tests read nothing outside the
# repository.
set -eu
[ -n "${SHARED:-}" ] || { echo "usage: SHARED=/path/to/full/data sh tests/data/trim.sh" >&2; exit 2; }
SHARED=$(cd "$SHARED" && pwd)
cd "$(dirname "$0")"
test -d "$SHARED/rustsec-advisory-db" || { echo "no $SHARED/rustsec-advisory-db" >&2; exit 1; }

# RustSec: every advisory of every crate named in the lockfiles the tests and
# the CI self-audit read (the fixture, fwaudit's own and the fuzz crate's),
# plus the licence files. The `rust/` collection is left out.
rm -rf rustsec-advisory-db
mkdir -p rustsec-advisory-db/crates
cp -r "$SHARED/rustsec-advisory-db/LICENSE.txt" "$SHARED/rustsec-advisory-db/LICENSES" \
    "$SHARED/rustsec-advisory-db/README.md" rustsec-advisory-db/
sed -n 's/^name = "\(.*\)"$/\1/p' ../fixtures/manifests/cargo-lock/Cargo.lock \
    ../../Cargo.lock ../../fuzz/Cargo.lock | sort -u |
while read -r crate; do
    if [ -d "$SHARED/rustsec-advisory-db/crates/$crate" ]; then
        cp -r "$SHARED/rustsec-advisory-db/crates/$crate" rustsec-advisory-db/crates/
    fi
done

# NVD CPE configurations (Anchore's overrides), all 17 product files, and
# OSS-Fuzz OSV records, all 14 project files: small enough to keep whole.
rm -rf nvd osv
cp -r "$SHARED/nvd" nvd
mkdir -p osv
cp -r "$SHARED/osv/oss-fuzz-vulns" osv/

# Complete NVD records: only those a bundled advisory (advisories/osv) names.
rm -rf nvd-full
mkdir nvd-full
for f in ../../advisories/osv/*.json; do
    id=$(basename "$f" .json)
    if [ -f "$SHARED/nvd-full/$id.json" ]; then
        cp "$SHARED/nvd-full/$id.json" nvd-full/
    fi
done
du -sh .

#!/usr/bin/env bash
# Prints a table of wall time and peak memory of `fwaudit scan` on every
# sample image (release build). Speed lives here, never in timed tests.
# Needs hyperfine (apt-get install hyperfine) and GNU time (/usr/bin/time).
set -euo pipefail
cd "$(dirname "$0")/.."
# FWAUDIT_BIN picks a binary copied aside (a shared CARGO_TARGET_DIR may be
# rebuilt by another checkout between build and measurement).
if [ -z "${FWAUDIT_BIN:-}" ]; then cargo build --release --quiet; fi
bin=${FWAUDIT_BIN:-${CARGO_TARGET_DIR:-target}/release/fwaudit}
# A generated package-lock.json v3 with 100,000 packages (29 MB): manifest
# parsing at scale, beside the images.
big=$(mktemp -d)
trap 'rm -rf "$big"' EXIT
python3 - "$big/package-lock.json" <<'PY'
import json, sys
packages = {"": {"name": "big"}}
for i in range(100000):
    packages[f"node_modules/pkg-{i}"] = {"version": f"1.{i % 100}.{i}",
        "resolved": f"https://registry.npmjs.org/pkg-{i}/-/pkg-{i}-1.0.0.tgz",
        "integrity": "sha512-" + "A" * 86 + "==", "license": "MIT"}
json.dump({"name": "big", "lockfileVersion": 3, "packages": packages}, open(sys.argv[1], "w"), indent=2)
PY
printf '| sample | size (bytes) | wall mean ± σ (ms) | peak RSS (MiB) |\n|---|---:|---:|---:|\n'
for image in samples/*.bin tests/fixtures/manifests/image/manifests-image.bin "$big/package-lock.json"; do
    size=$(stat -c %s "$image")
    json=$(mktemp)
    hyperfine --warmup 2 --runs 20 --export-json "$json" -N "$bin scan $image --format json" >/dev/null 2>&1 \
        || hyperfine --warmup 2 --runs 20 --export-json "$json" "$bin scan $image --format json" >/dev/null
    read -r mean sd < <(python3 -c "import json,sys; r=json.load(open('$json'))['results'][0]; print(f\"{r['mean']*1000:.1f} {r['stddev']*1000:.1f}\")")
    rss=$(/usr/bin/time -f '%M' "$bin" scan "$image" --format json 2>&1 >/dev/null | tail -1)
    printf '| %s | %s | %s ± %s | %.1f |\n' "$image" "$size" "$mean" "$sd" "$(echo "$rss / 1024" | bc -l)"
    rm -f "$json"
done

#!/usr/bin/env bash
# Prints a table of wall time and peak memory of `fwaudit scan` on every
# sample image (release build). Speed lives here, never in timed tests.
# Needs hyperfine (apt-get install hyperfine) and GNU time (/usr/bin/time).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
bin="${CARGO_TARGET_DIR:-target}/release/fwaudit"
printf '| sample | size (bytes) | wall mean ± σ (ms) | peak RSS (MiB) |\n|---|---:|---:|---:|\n'
for image in samples/*.bin; do
    size=$(stat -c %s "$image")
    json=$(mktemp)
    hyperfine --warmup 2 --runs 20 --export-json "$json" -N "$bin scan $image --format json" >/dev/null 2>&1 \
        || hyperfine --warmup 2 --runs 20 --export-json "$json" "$bin scan $image --format json" >/dev/null
    read -r mean sd < <(python3 -c "import json,sys; r=json.load(open('$json'))['results'][0]; print(f\"{r['mean']*1000:.1f} {r['stddev']*1000:.1f}\")")
    rss=$(/usr/bin/time -f '%M' "$bin" scan "$image" --format json 2>&1 >/dev/null | tail -1)
    printf '| %s | %s | %s ± %s | %.1f |\n' "$image" "$size" "$mean" "$sd" "$(echo "$rss / 1024" | bc -l)"
    rm -f "$json"
done

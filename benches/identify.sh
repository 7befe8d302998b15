#!/usr/bin/env bash
# Identification throughput (MB/s, release build) over an unpacked root file
# system made of every .deb in the accuracy cache (run
# tests/fixtures/fetch-accuracy.sh first), and, when it is installed,
# cve-bin-tool's time on the same tree for comparison.
#   bash benches/identify.sh [CACHE]      (default /var/cache/fwaudit-accuracy)
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE=${1:-${FWAUDIT_ACCURACY_CACHE:-/var/cache/fwaudit-accuracy}}
ROOT="$CACHE/rootfs"
if [ ! -d "$ROOT" ]; then
    mkdir -p "$ROOT"
    for deb in "$CACHE"/debs/*.deb; do
        dpkg-deb -x "$deb" "$ROOT/$(basename "$deb" .deb)"
    done
fi
size=$(du -sb "$ROOT" | cut -f1)
files=$(find "$ROOT" -type f | wc -l)
echo "tree: $ROOT, $files files, $((size / 1000000)) MB"
# Warm the page cache so that both tools read from memory.
find "$ROOT" -type f -print0 | xargs -0 cat > /dev/null

FWAUDIT_BENCH_DIR="$ROOT" cargo bench --quiet --bench identify
bin=${CARGO_TARGET_DIR:-target}/release/fwaudit
cargo build --release --quiet
start=$(date +%s.%N)
"$bin" scan "$ROOT" --format json > /dev/null || true
end=$(date +%s.%N)
echo "| fwaudit scan (read + identify + manifests + analysis) | $(echo "$end - $start" | bc -l | cut -c1-6) s | $(echo "$size / 1000000 / ($end - $start)" | bc -l | cut -d. -f1) MB/s |"

# cve-bin-tool's CLI will not run without its network-built CVE database, so
# its version scanner is driven directly (benches/cve_bin_tool_scan.py).
# Install it with: python3 -m venv /tmp/cbt && /tmp/cbt/bin/pip install cve-bin-tool
PY=${CVE_BIN_TOOL_PYTHON:-/tmp/cbt/bin/python}
if [ -x "$PY" ] && "$PY" -c "import cve_bin_tool" 2> /dev/null; then
    mkdir -p "$HOME/.cache/cve-bin-tool"
    "$PY" benches/cve_bin_tool_scan.py "$ROOT" 2> /dev/null | grep '^cve-bin-tool'
    # Recall of both tools on the accuracy rows whose product cve-bin-tool
    # also has a checker for.
    "$PY" benches/recall_vs_cve_bin_tool.py "$bin" "$CACHE" 2> /dev/null
else
    echo "cve-bin-tool not installed: no comparison"
fi

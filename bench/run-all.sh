#!/usr/bin/env bash
# Run every benchmark of dmap once, in sequence, on a Release build, and keep
# each one's full output: the figures in docs/benchmarks.md come from this.
# Usage: bash bench/run-all.sh [OUT_DIR]   (default: build/bench-results)
# The machine should be otherwise idle; every benchmark prints medians of
# several repetitions and its ratios against the baselines its issue names.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-build/bench-results}
bash scripts/install-deps.sh
cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF \
  -DDMAP_BUILD_PYTHON=OFF >/dev/null
cmake --build build/release -j "$(nproc 2>/dev/null || echo 2)" >/dev/null
mkdir -p "$out"
run() { # name, command...
  local name=$1; shift
  echo "==== $name: $*" | tee "$out/$name.txt"
  "$@" 2>&1 | tee -a "$out/$name.txt"
}
b=build/release/bench
run identity  $b/core/bench_identity 200000 31
# 8 entries: a vhost-user memory table (VHOST_MEMORY_BASELINE_NREGIONS); 64: a
# small IOTLB; 1024: the size the range-map issue names.
for n in 8 64 1024; do
  run range_map_$n $b/range_map/bench_range_map --runs 7 --seconds 0.3 --entries $n
done
run bounce    $b/bounce/bench_bounce --reps 11
run iommu     $b/iommu/bench_iommu 9 200000
run xen       $b/xen/bench_xen 0.2
echo "results in $out"

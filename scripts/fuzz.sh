#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# scripts/fuzz.sh - build the libFuzzer targets of tests/fuzz with clang and run them.
#
# Usage: scripts/fuzz.sh [-t SECONDS] [-j JOBS] [--merge] [TARGET...]
#   -t SECONDS  time per target (default 60)
#   -j JOBS     libFuzzer processes per target (-fork=JOBS; default 1: the machine is shared)
#   --merge     afterwards, merge what the run found into the checked-in seed corpus
#               (tests/fuzz/corpus/<target>, minimised with -merge=1; review before committing)
#   TARGET      api, format, range_map, hw_records (default: all that were built)
# Environment: BUILD_DIR (default build/fuzz), CC (default clang), FUZZ_MAX_LEN (default 2048),
# FUZZ_ARGS (extra libFuzzer flags, e.g. "-len_control=0" to try long inputs at once).
#
# Each target fuzzes a working corpus in $BUILD_DIR/corpus/<target>, seeded from the
# checked-in one. New crashes, timeouts and leaks are written to tests/fuzz/crashes/
# (<target>-crash-<sha1>, ...); the script exits 1 if any target found one. Reproduce with
#   $BUILD_DIR/tests/fuzz/fuzz_<target> tests/fuzz/crashes/<file>
# or, in any build, with the replay driver: fuzz_replay_<target> -n 0 <file>.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
seconds=60
jobs=1
merge=0
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    -t) seconds=$2; shift 2 ;;
    -j) jobs=$2; shift 2 ;;
    --merge) merge=1; shift ;;
    -h|--help) sed -n '3,17p' "$0"; exit 0 ;;
    -*) echo "unknown option $1" >&2; exit 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done

build=${BUILD_DIR:-$root/build/fuzz}
cc=${CC:-clang}
max_len=${FUZZ_MAX_LEN:-2048}
if ! command -v "$cc" >/dev/null; then
  echo "fuzz.sh: $cc not found (apt-get install clang)" >&2; exit 2
fi
# libFuzzer's runtime ships in libclang-rt-<version>-dev on Debian.
if ! echo 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n){return 0;}' |
    "$cc" -x c -fsanitize=fuzzer - -o /dev/null 2>/dev/null; then
  ver=$("$cc" -dumpversion | cut -d. -f1)
  echo "fuzz.sh: $cc cannot link -fsanitize=fuzzer; install libclang-rt-$ver-dev" >&2
  exit 2
fi

cmake -S "$root" -B "$build" -G Ninja -DCMAKE_C_COMPILER="$cc" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DDMAP_SANITIZE=address -DDMAP_FUZZ=ON -DDMAP_BUILD_PYTHON=OFF -DDMAP_BUILD_BENCH=OFF >/dev/null
if [ ${#targets[@]} -eq 0 ]; then
  known=$(ninja -C "$build" -t targets all 2>/dev/null || true)
  for t in api format range_map hw_records; do
    if grep -q "^fuzz_$t: " <<<"$known"; then targets+=("$t"); fi
  done
fi
if [ ${#targets[@]} -eq 0 ]; then
  echo "fuzz.sh: no fuzz targets in $build (is tests/fuzz in tests/CMakeLists.txt?)" >&2; exit 2
fi
ninja -C "$build" -j2 $(printf 'fuzz_%s ' "${targets[@]}")

crashes=$root/tests/fuzz/crashes
mkdir -p "$crashes"
found=0
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=0:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
for t in "${targets[@]}"; do
  work=$build/corpus/$t
  seeds=$root/tests/fuzz/corpus/$t
  mkdir -p "$work" "$seeds"
  before=$(ls "$crashes" | wc -l)
  echo "== fuzz_$t for ${seconds}s (corpus $work, seeds $seeds)"
  set +e
  parallel=()
  if [ "$jobs" -gt 1 ]; then parallel=(-fork="$jobs"); fi
  (cd "$build" && "$build/tests/fuzz/fuzz_$t" "$work" "$seeds" -max_total_time="$seconds" \
    -timeout=20 -rss_limit_mb=4096 -max_len="$max_len" -print_final_stats=1 "${parallel[@]}" \
    ${FUZZ_ARGS:-} \
    -artifact_prefix="$crashes/$t-") > "$build/fuzz_$t.log" 2>&1
  rc=${PIPESTATUS[0]}
  set -e
  grep -v '^"\|Uses:\|dictionary' "$build/fuzz_$t.log" | tail -n 12
  after=$(ls "$crashes" | wc -l)
  if [ "$rc" -ne 0 ] || [ "$after" -ne "$before" ]; then
    echo "!! fuzz_$t: exit $rc, $((after - before)) new file(s) in $crashes"
    found=1
  fi
  if [ "$merge" -eq 1 ]; then
    # Edge coverage only (-use_counters=0): a small seed set, not every hit-count bucket.
    (cd "$build" && "$build/tests/fuzz/fuzz_$t" -merge=1 -use_counters=0 -max_len="$max_len" \
      "$seeds" "$work") >"$build/merge_$t.log" 2>&1 || true
    echo "   seed corpus $seeds: $(ls "$seeds" | wc -l) files"
  fi
done
exit $found

#!/usr/bin/env bash
# The whole test suite (the README's second command; .ci/run runs exactly this):
#  1. a RelWithDebInfo build: every Criterion test, the freestanding check, the
#     style check, the install/consumer check, pytest and the Python scenarios;
#  2. an AddressSanitizer + UndefinedBehaviorSanitizer build of all C tests;
#  3. a ThreadSanitizer build of all C tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
jobs=$(nproc 2>/dev/null || echo 2)
run() { # name, extra cmake args...
  local dir=build/$1; shift
  echo "==== dmap test pass: $dir ($*)"
  cmake -S . -B "$dir" -G Ninja -DPython3_EXECUTABLE=/usr/bin/python3 "$@" >/dev/null
  cmake --build "$dir" -j "$jobs"
  (cd "$dir" && ctest --output-on-failure -j "$jobs" --timeout 600)
}
run default
run asan -DDMAP_SANITIZE=address -DDMAP_BUILD_PYTHON=OFF -DDMAP_BUILD_BENCH=OFF
TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" \
  run tsan -DDMAP_SANITIZE=thread -DDMAP_BUILD_PYTHON=OFF -DDMAP_BUILD_BENCH=OFF
echo "==== dmap: all test passes succeeded (default, asan+ubsan, tsan)"

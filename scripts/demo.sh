#!/usr/bin/env bash
# The main job (the README's first command): build dmap and run its demo on
# built-in defaults: the C walkthrough of the identity backend and the debug
# layer, then every scenario of examples/scenarios with a summary table.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake -S . -B build/default -G Ninja -DPython3_EXECUTABLE=/usr/bin/python3 >/dev/null
cmake --build build/default -j "$(nproc 2>/dev/null || echo 2)" >/dev/null
./build/default/examples/demo/dmap-demo
if [ -f examples/scenarios/run_all.py ] && [ -d build/default/bindings/python/dmap ]; then
  echo
  PYTHONPATH=build/default/bindings/python /usr/bin/python3 examples/scenarios/run_all.py
fi

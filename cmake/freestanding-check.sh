#!/usr/bin/env bash
# Compile every freestanding source of core/ and backends/ as a bare-metal
# build would: -ffreestanding -nostdlib -nostdinc with only the compiler's own
# headers (stddef, stdint, stdbool, stdarg) and the bare-metal inline
# environment. Then link them into one relocatable object and fail if it
# needs any symbol but the four a freestanding C implementation must provide.
# Usage: freestanding-check.sh CC SOURCE_DIR WORK_DIR SOURCES...
set -euo pipefail
cc=$1 src=$2 work=$3
shift 3
[ $# -gt 0 ] || { echo "freestanding: no sources registered"; exit 1; }
rm -rf "$work" && mkdir -p "$work"
gccinc=$("$cc" -print-file-name=include)
objs=()
for f in "$@"; do
  o="$work/$(basename "${f%.c}").o"
  "$cc" -std=gnu11 -O2 -ffreestanding -nostdlib -nostdinc -fno-builtin-malloc \
    -Wall -Wextra -Werror -Wno-missing-field-initializers \
    -isystem "$gccinc" -I "$src/core/include" -I "$src/frontends/baremetal/include" \
    -c "$f" -o "$o"
  objs+=("$o")
done
ld -r -o "$work/dmap-freestanding.o" "${objs[@]}"
undefined=$(nm -u "$work/dmap-freestanding.o" | awk '{print $2}' | sort -u)
bad=$(echo "$undefined" | grep -v -x -E 'memcpy|memmove|memset|memcmp|' || true)
if [ -n "$bad" ]; then
  echo "freestanding: hosted symbols leaked into core/backends:"; echo "$bad"; exit 1
fi
echo "freestanding: ${#objs[@]} sources compiled with -ffreestanding -nostdlib; undefined symbols: $(echo $undefined)"

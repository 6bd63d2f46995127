#!/usr/bin/env bash
# Every C source and header under the project's own folders must already be
# in the checked-in .clang-format style (kernel style).
set -euo pipefail
cd "$1"
files=$(find core backends frontends tests bench examples bindings -name '*.[ch]' \
  -not -path '*/build*' 2>/dev/null | sort)
bad=()
for f in $files; do
  clang-format --dry-run -Werror "$f" >/dev/null 2>&1 || bad+=("$f")
done
if [ ${#bad[@]} -gt 0 ]; then
  echo "not in .clang-format style (run clang-format -i):"; printf '  %s\n' "${bad[@]}"; exit 1
fi
echo "style: $(echo "$files" | wc -l) files in .clang-format style"

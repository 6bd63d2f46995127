#!/usr/bin/env bash
# Installs what dmap needs from Debian bookworm's packages, only if missing.
# Needs root (or sudo) the first time; a no-op once everything is there.
set -euo pipefail
packages=(gcc make cmake ninja-build pkg-config binutils clang-format
  liburcu-dev libcriterion-dev libjemalloc-dev swig python3-dev python3-pytest)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "dmap: installing missing packages: ${missing[*]}"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

#!/usr/bin/env bash
# Install the built library into a scratch prefix, then build examples/minimal
# against it with find_package(dmap) and with pkg-config, and run both.
# Usage: check-install.sh BUILD_DIR MINIMAL_SRC WORK_DIR
set -euo pipefail
build=$1 src=$2 work=$3
rm -rf "$work" && mkdir -p "$work"
prefix=$work/prefix
cmake --install "$build" --prefix "$prefix" >/dev/null
libdir=$(dirname "$(find "$prefix" -name 'libdmap.so' | head -n1)")
cmake -S "$src" -B "$work/cmake-build" -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build "$work/cmake-build" >/dev/null
LD_LIBRARY_PATH=$libdir "$work/cmake-build/dmap-minimal"
mkdir -p "$work/make-build" && cp "$src/main.c" "$src/Makefile" "$work/make-build/"
PKG_CONFIG_PATH=$libdir/pkgconfig make -s -C "$work/make-build"
LD_LIBRARY_PATH=$libdir "$work/make-build/dmap-minimal"
echo "install-consumer: find_package and pkg-config builds both ran"

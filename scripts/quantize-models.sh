#!/usr/bin/env bash
# Makes the small recogniser's int8 copy (models/ppocrv6-small/rec.int8.onnx) from the float
# rec.onnx that scripts/fetch-models.sh fetched and checked: scripts/quantize/quantize_models.py
# in a venv of pinned PyPI packages (onnxruntime's own quantisation tool), calibrated on
# scripts/quantize/calibration.txt rendered with Pillow's bundled font — nothing is downloaded
# but the pinned packages. Idempotent: when the stamp beside the output (`rec.int8.onnx.from`)
# names the float input's sha256 and the output's own, nothing runs. Prints where the result is.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
dest="${OCRCHAT_MODELS_DIR:-$root/models}/ppocrv6-small"
cache="${OCRCHAT_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/ocrchat}"
venv="$cache/quantize-venv"
out="$dest/rec.int8.onnx"

# The float input (as fetch-models.sh installs it) and the output this script made from it on the
# reference machine. Calibration ranges are rounded to 4 significant digits, so other CPUs give
# the same bytes; a different result is reported, not hidden.
REC_SHA256="$(python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); print(next(x["rec"]["sha256"] for x in m["models"] if x["name"]=="ppocrv6-small"))' "$dest/../manifest.json")"
INT8_SHA256="03459f533413410589b8b1c9fe91af2239b98626f56feceb050e49cdd204558e"
PACKAGES=("onnxruntime==1.31.1" "onnx==1.19.1" "pillow==13.0.0" "numpy==2.4.6")

sha() { sha256sum "$1" | cut -d' ' -f1; }
stamp="$out.from"
if [ -f "$out" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$REC_SHA256 $(sha "$out")" ]; then
  echo "quantize: up to date ($out)"
  exit 0
fi
[ "$(sha "$dest/rec.onnx")" = "$REC_SHA256" ] || {
  echo "quantize: $dest/rec.onnx does not match models/manifest.json; run scripts/fetch-models.sh" >&2
  exit 1
}

py="$venv/bin/python"
check='import importlib.metadata as m, sys; sys.exit(any(m.version(p.split("==")[0]) != p.split("==")[1] for p in sys.argv[1:]))'
if ! "$py" -c "$check" "${PACKAGES[@]}" >/dev/null 2>&1; then
  echo "quantize: creating $venv with ${PACKAGES[*]} (one-off)"
  mkdir -p "$cache/wheels"
  [ -x "$py" ] || python3 -m venv "$venv"
  # fetch-onnxruntime.sh has already put the onnxruntime wheel (sha256-checked) in the cache.
  "$py" -m pip install --quiet --disable-pip-version-check --find-links "$cache/wheels" "${PACKAGES[@]}"
fi

echo "quantize: making $out (int8, per-channel, QDQ)"
got="$("$py" "$root/scripts/quantize/quantize_models.py" "$dest/rec.onnx" "$out" \
  "$root/scripts/quantize/calibration.txt" 2> >(grep -v -i warn >&2) | tail -n 1)"
if [ "$got" != "$INT8_SHA256" ]; then
  echo "quantize: note: $out has sha256 $got, not the reference build's $INT8_SHA256" >&2
fi
echo "$REC_SHA256 $(sha "$out")" > "$stamp"
echo "quantize: $out ready"

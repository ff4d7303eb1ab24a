# ocrchat — two commands matter: `make run` and `make test`. Both install what
# they need (wasm target, wasm-bindgen-cli, models) idempotently.

SHELL := /bin/bash
CARGO ?= cargo
TOOLS_BIN = $(shell scripts/install-tools.sh | tail -n 1)
WASM_NODE = target/wasm-node

.PHONY: run test lint models onnxruntime tools build wasm web bench clean-wasm local-llm

## run: the API server (+ web app when built) on http://127.0.0.1:8080 with SQLite in
## the user's data dir (override: OCRCHAT_DATA_DIR, ocrchat.toml); fetches models on first run
run: models web
	$(CARGO) build --release -p ocrchat
	./target/release/ocrchat serve --models-dir models

## test: lint, then every test (unit, golden, hostile files, wasm == native, exports read by python-docx and
## pdftotext, the API against its OpenAPI document with schemathesis, chat with the built-in answerer and
## through a real llama.cpp server on loopback, every script family through CLI and API, every listed
## language's model loading)
test: lint models web wasm
	@scripts/install-pdf-tools.sh
	@scripts/install-lang-deps.sh
	@scripts/local-llm.sh fetch smollm2 >/dev/null
	@set -eo pipefail; OCRCHAT_TEST_PYTHON="$$(scripts/install-test-deps.sh | tail -n 1)"; export OCRCHAT_TEST_PYTHON; \
	OCRCHAT_SCHEMATHESIS="$$(scripts/install-schemathesis.sh | tail -n 1)"; export OCRCHAT_SCHEMATHESIS; \
	OCRCHAT_TEST_TESSDATA_ALL="$$(OCRCHAT_TESSDATA=target/tessdata-all scripts/fetch-tessdata.sh all | tail -n 1)"; \
	export OCRCHAT_TEST_TESSDATA_ALL; \
	OCRCHAT_TEST_LLAMACPP=1 OCRCHAT_REQUIRE_ONNXRUNTIME=1 scripts/test.sh

## lint: rustfmt and clippy with warnings as errors, natively and for the wasm crates on wasm32.
## --release shares target/release with the build and tests (build scripts, proc macros).
lint:
	@PATH="$(TOOLS_BIN):$$PATH"; set -e; \
	{ $(CARGO) clippy --version && $(CARGO) fmt --version; } >/dev/null 2>&1 || rustup component add clippy rustfmt; \
	$(CARGO) fmt --all --check; \
	$(CARGO) clippy --workspace --all-targets --release -- -D warnings; \
	$(CARGO) clippy -p ocrchat-worker -p ocrchat-app --release --target wasm32-unknown-unknown -- -D warnings

## models: fetch and verify the OCR models into models/, with .br/.gz beside them for the browser,
## the small model's int8 recogniser (scripts/quantize-models.sh; `--int8`), the onnxruntime
## library the native engine prefers, and the Tesseract packs of the default language set
## (models/tessdata). More packs: `make models LANGS="fra deu"` (or `LANGS=all`;
## Tesseract pack names, `+` or space separated; `scripts/fetch-tessdata.sh --list` lists them).
models: onnxruntime
	@scripts/fetch-models.sh
	@scripts/quantize-models.sh || echo "quantize: the int8 recogniser was not made; --int8 is unavailable" >&2
	@scripts/fetch-tessdata.sh default $(subst +, ,$(LANGS)) >/dev/null
	@python3 scripts/web_assets.py --compress-only models

## onnxruntime: the native engine's faster runtime (pinned PyPI wheel, sha256-checked, cached in
## ~/.cache/ocrchat); without it the engine runs on rten
onnxruntime:
	@scripts/fetch-onnxruntime.sh >/dev/null || echo "onnxruntime: not installed; the native engine runs on rten" >&2

tools:
	@scripts/install-tools.sh >/dev/null

build:
	$(CARGO) build --release --workspace --exclude ocrchat-worker --exclude ocrchat-app

## wasm: the engine as wasm32+simd128 for Node (tests, bench). Built with the browser
## workers' profile and features (wasm-release, pdf+docx: the same as `worker_full`), so
## after `make web` only the library crate itself is compiled.
wasm:
	@PATH="$(TOOLS_BIN):$$PATH"; set -e; \
	$(CARGO) build --profile wasm-release -p ocrchat-worker --lib --features pdf,docx --target wasm32-unknown-unknown; \
	wasm-bindgen --target nodejs --out-dir $(WASM_NODE) target/wasm32-unknown-unknown/wasm-release/ocrchat_worker.wasm

## web: the browser app (Leptos + the OCR worker) into dist/, optimised by wasm-opt, then
## content-hashed names and .br/.gz beside each file (scripts/web_assets.py);
## rebuilt only when a source it is made from changed (wasm-opt takes minutes)
WEB_SRC = $(shell find app worker engine core answer www -type f -not -path '*/node/*') Trunk.toml Cargo.toml Cargo.lock scripts/web_assets.py
web: dist/.built
dist/.built: $(WEB_SRC)
	@PATH="$(TOOLS_BIN):$$PATH"; set -e; trunk build --release; python3 scripts/web_assets.py dist; touch $@

## bench: accuracy/speed/memory vs Tesseract and rapidocr, the API load benchmark, the browser → bench/results.md
bench: models web wasm
	$(CARGO) build --release -p ocrchat -p ocrchat-tests
	bash bench/run.sh
	@PATH="$(TOOLS_BIN):$$PATH" python3 bench/web_bench.py

## local-llm: a useful local chat model (Qwen2.5-Coder-1.5B Q4_K_M, ~2 GB RAM) on 127.0.0.1:8081;
## then `OCRCHAT_LLM_URL=http://127.0.0.1:8081/v1 OCRCHAT_LLM_MODEL=qwen-coder make run`
local-llm:
	scripts/local-llm.sh serve qwen-coder 8081

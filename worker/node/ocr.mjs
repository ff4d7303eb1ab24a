// Runs the wasm engine under Node: the same Rust code the browser worker runs.
// usage: node worker/node/ocr.mjs [--model tiny|small] [--language auto|en|…] [--format txt|md|json|docx|csv|pdf] FILE [OUT]
// Env: OCRCHAT_WASM_PKG (wasm-bindgen --target nodejs output, default target/wasm-node),
//      OCRCHAT_MODELS_DIR (default models/).
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

export function loadEngine(size) {
  const pkg = process.env.OCRCHAT_WASM_PKG || resolve(root, 'target', 'wasm-node');
  const models = process.env.OCRCHAT_MODELS_DIR || resolve(root, 'models');
  const require = createRequire(import.meta.url);
  const { Engine } = require(resolve(pkg, 'ocrchat_worker.js'));
  const dir = resolve(models, `ppocrv6-${size}`);
  return new Engine(size, readFileSync(resolve(dir, 'det.onnx')), readFileSync(resolve(dir, 'rec.onnx')),
    readFileSync(resolve(dir, 'dict.txt'), 'utf8'));
}

function main(argv) {
  let size = 'small', format = 'txt', language = 'auto';
  const files = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--model') size = argv[++i];
    else if (argv[i] === '--format') format = argv[++i];
    else if (argv[i] === '--language') language = argv[++i];
    else files.push(argv[i]);
  }
  if (files.length < 1) {
    console.error('usage: ocr.mjs [--model tiny|small] [--language auto|en|…] [--format txt|md|json|docx|csv|pdf] FILE [OUT]');
    process.exit(2);
  }
  const engine = loadEngine(size);
  const input = readFileSync(files[0]);
  const json = engine.ocr(input, language);
  // The original file goes along: the searchable PDF is drawn from its pages.
  const out = format === 'json' ? Buffer.from(json) : Buffer.from(engine.export(json, format, input));
  if (files[1]) writeFileSync(files[1], out); else process.stdout.write(out);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try { main(process.argv.slice(2)); } catch (e) { console.error(`error: ${e.message || e}`); process.exit(1); }
}

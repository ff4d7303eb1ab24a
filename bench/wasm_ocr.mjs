// Bench entry for the wasm engine: node bench/wasm_ocr.mjs FILE OUT.txt --model tiny|small [--language en|auto]
import { spawnSync } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
const here = dirname(fileURLToPath(import.meta.url));
const r = spawnSync(process.execPath, [resolve(here, '..', 'worker', 'node', 'ocr.mjs'), ...process.argv.slice(2)], { stdio: 'inherit' });
process.exit(r.status ?? 1);

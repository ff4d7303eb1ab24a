// Starts the worker OCR worker (Trunk's loader shim, plus a report when its wasm
// cannot be fetched or compiled: the page would otherwise wait forever).
// tesseract-wasm is an ES module: the worker (a classic script) imports it through this.
self.ocrchatImport = (url) => import(url);
importScripts('./worker.js');
wasm_bindgen('./worker_bg.wasm').catch((e) => postMessage({ type: 'error', job: null, message: `the OCR worker could not start: ${e}` }));

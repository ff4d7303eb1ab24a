// ocrchat embeddable widget: a drop zone and a result box that OCR files in
// the visitor's browser with the same Web Worker as the app (nothing is
// uploaded). Embed with
//   <div id="ocr"></div>
//   <script src="https://HOST/widget.js" data-target="#ocr"></script>
// or <ocrchat-widget></ocrchat-widget> after loading the script.
// From another origin, HOST must allow CORS on the worker files and /models/.
(() => {
  const script = document.currentScript;
  const base = new URL('.', script ? script.src : location.href).href;
  let jobs = 0;

  // `worker` reads images; `worker_full` also PDFs and is started only when
  // one arrives (it is twice the download); the first-load worker says when a
  // file is a PDF it cannot read. The build step (scripts/web_assets.py)
  // rewrites these names to the content-hashed ones.
  const FILES = {
    worker: ['worker.js', 'worker_bg.wasm'],
    worker_full: ['worker_full.js', 'worker_full_bg.wasm'],
  };
  function spawnWorker(name) {
    const [js, wasm] = FILES[name];
    // A blob worker may load scripts from HOST even when the page is elsewhere.
    const src = `importScripts(${JSON.stringify(base + js)});` +
      `wasm_bindgen({ module_or_path: ${JSON.stringify(base + wasm)} })` +
      // Without this a wasm that cannot be fetched (no CORS, offline) leaves the widget waiting forever.
      `.catch((e) => postMessage({ type: 'error', job: null, message: 'the OCR worker could not start: ' + e }));`;
    return new Worker(URL.createObjectURL(new Blob([src], { type: 'text/javascript' })));
  }

  function mount(root) {
    if (root.dataset.ocrchatMounted) return;
    root.dataset.ocrchatMounted = '1';
    root.classList.add('ocrchat-widget');
    root.innerHTML = `
      <style>
        .ocrchat-widget{font:14px system-ui,sans-serif;border:1px solid #bbb;border-radius:8px;padding:10px;max-width:520px}
        .ocrchat-widget label.ocw-drop{display:block;border:2px dashed #8aa;border-radius:6px;padding:14px;text-align:center;cursor:pointer}
        .ocrchat-widget textarea{width:100%;box-sizing:border-box;min-height:120px;margin-top:8px}
        .ocrchat-widget progress{width:100%}
        .ocrchat-widget .ocw-status{color:#555;margin:6px 0 0}
      </style>
      <label class="ocw-drop">Drop an image or PDF, or click to pick one
        <input type="file" accept="image/*,.pdf,.tif,.tiff" hidden data-testid="widget-input">
      </label>
      <progress max="1" value="0" data-testid="widget-progress"></progress>
      <p class="ocw-status" data-testid="widget-status">loading the model…</p>
      <textarea readonly data-testid="widget-text" placeholder="Text appears here. Your file stays in this browser."></textarea>`;
    const input = root.querySelector('input');
    const drop = root.querySelector('label');
    const bar = root.querySelector('progress');
    const status = root.querySelector('.ocw-status');
    const text = root.querySelector('textarea');
    let current = 0;
    let currentWorker = null;
    const workers = {};
    // A started worker with the model loading; requests wait for `started`
    // (the worker has no handler while its wasm loads).
    const workerFor = (name) => {
      if (workers[name]) return workers[name];
      const worker = spawnWorker(name);
      let queue = [];
      const sniffs = {};
      const w = {
        send: (msg, transfer = []) => (queue ? queue.push([msg, transfer]) : worker.postMessage(msg, transfer)),
        // The file type and whether this build reads it, by the engine's own
        // rule (the widget does not sniff itself): `sniff` → `sniffed`.
        sniff: async (job, file) => {
          const head = await file.slice(0, 1024).arrayBuffer();
          return new Promise((resolve) => { sniffs[job] = resolve; w.send({ type: 'sniff', job, payload: head }, [head]); });
        },
      };
      worker.onmessage = ({ data: m }) => {
        if (m.type === 'started') { queue.forEach(([msg, t]) => worker.postMessage(msg, t)); queue = null; }
        else if (m.type === 'sniffed') { const answer = sniffs[m.job]; delete sniffs[m.job]; if (answer) answer(m); }
        else if (m.type === 'ready') { if (!current) status.textContent = 'ready'; }
        else if (m.type === 'opened' && m.job === current) { bar.max = m.pages; bar.value = 0; status.textContent = `reading 0/${m.pages} pages…`; }
        else if (m.type === 'page' && m.job === current) { bar.value = m.index + 1; status.textContent = `reading ${m.index + 1}/${m.pages} pages…`; }
        else if (m.type === 'done' && m.job === current) { text.value = m.text; status.textContent = 'done'; }
        else if (m.type === 'error' && (m.job == null || m.job === current)) status.textContent = `error: ${m.message}`;
      };
      worker.onerror = (e) => { status.textContent = `error: ${e.message || 'the OCR worker failed to start'}`; };
      w.send({ type: 'load', model: root.dataset.model || 'tiny', models_url: base + 'models/' });
      return (workers[name] = w);
    };
    workerFor('worker');
    const read = async (file) => {
      if (!file) return;
      if (current && currentWorker) currentWorker.send({ type: 'forget', job: current });
      const job = (current = ++jobs);
      text.value = '';
      status.textContent = 'reading…';
      // The first-load worker says whether it reads the file; a PDF it cannot
      // read goes to the PDF build, started now (twice the download).
      const sniffed = await workerFor('worker').sniff(job, file);
      if (job !== current) return; // another file was dropped meanwhile
      const worker = workerFor(sniffed.format === 'pdf' && !sniffed.readable ? 'worker_full' : 'worker');
      const payload = await file.arrayBuffer();
      if (job !== current) return; // another file was dropped meanwhile
      currentWorker = worker;
      // Transferred, not copied; it never leaves the browser.
      worker.send({ type: 'ocr', job, name: file.name, payload }, [payload]);
    };
    input.addEventListener('change', () => { read(input.files[0]); input.value = ''; });
    drop.addEventListener('dragover', (e) => e.preventDefault());
    drop.addEventListener('drop', (e) => { e.preventDefault(); read(e.dataTransfer.files[0]); });
  }

  if (!customElements.get('ocrchat-widget')) {
    customElements.define('ocrchat-widget', class extends HTMLElement {
      connectedCallback() { mount(this); }
    });
  }
  const target = script && script.dataset.target;
  if (target) {
    const go = () => document.querySelectorAll(target).forEach(mount);
    if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', go); else go();
  }
})();

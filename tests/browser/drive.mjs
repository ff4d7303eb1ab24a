// Drives headless Chromium (Debian's, through playwright-core) against the app
// served by `ocrchat serve`, and prints what it saw as JSON on stdout. The
// assertions live in tests/tests/browser.rs; this script only acts and records,
// so a broken app shows up as wrong data there, not as a silent pass here.
//
// env: OCRCHAT_BASE_URL (http://127.0.0.1:PORT/), OCRCHAT_NPM_DIR (playwright-core),
//      OCRCHAT_RELEASE_DIR (the served copy of dist/, changed here to play a new release),
//      OCRCHAT_CHROMIUM (default /usr/bin/chromium), OCRCHAT_OUT (download dir),
//      OCRCHAT_SCREENSHOT (png path); files: OCRCHAT_PHOTOTEST, OCRCHAT_PDF, OCRCHAT_CORRUPT;
//      OCRCHAT_QA (optional): JSON [{name, path, questions: [...]}] asked in the cpu tier's chat;
//      OCRCHAT_SCRIPTS (optional): JSON [{family, code, model, path}] read with their code and with auto.
// mode `bench`: OCRCHAT_BENCH_FILES (comma list), times drop → text per model (in OCRCHAT_BENCH_LANGUAGE), the
//      fastest of OCRCHAT_BENCH_REPEAT drops of each file (default 1).
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { env, launch } from './chromium.mjs';

const base = env('OCRCHAT_BASE_URL');
const origin = new URL(base).origin;
const TIMEOUT = 600_000;

const browser = await launch();
const out = {};
try {
  if (process.argv[2] === 'bench') await bench(out); else await test(out);
} finally {
  await browser.close();
}
console.log(JSON.stringify(out));

/** Every request the browser makes in `ctx` (pages, dedicated workers, service worker). */
function record(ctx) {
  const log = [];
  ctx.on('request', (r) => log.push({
    url: r.url(), method: r.method(), type: r.resourceType(),
    body_bytes: r.postDataBuffer() ? r.postDataBuffer().length : 0,
    service_worker: !!r.serviceWorker(),
  }));
  return log;
}

async function openApp(ctx, errors) {
  const page = await ctx.newPage();
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(`console: ${m.text()} (${m.location().url || 'no url'})`); });
  await page.goto(base);
  await page.waitForFunction(() => /ready/.test(document.querySelector('[data-testid=model-status]')?.textContent || ''),
    null, { timeout: TIMEOUT });
  return page;
}

/** Switches the app to `model` and waits until the worker has it. */
async function useModel(page, model) {
  await page.selectOption('#model', model);
  await page.waitForFunction((m) => new RegExp(`${m} model ready`).test(document.querySelector('[data-testid=model-status]')?.textContent || ''),
    model, { timeout: TIMEOUT });
}

async function waitDone(page) {
  await page.waitForFunction(() => document.querySelector('[data-testid=status]')?.textContent === 'done',
    null, { timeout: TIMEOUT, polling: 100 });
}

async function cards(page) {
  return page.$$eval('[data-testid=file-card]', (cs) => cs.map((c) => ({
    name: c.querySelector('.name')?.textContent,
    text: c.querySelector('[data-testid=result-text]')?.value ?? '',
    markdown: c.querySelector('[data-testid=result-markdown]')?.textContent ?? '',
    error: c.querySelector('[data-testid=error]')?.textContent ?? null,
    progress: [c.querySelector('[data-testid=progress]')?.value, c.querySelector('[data-testid=progress]')?.max],
    page_tabs: c.querySelectorAll('.page-tabs button').length,
    workers: Number(c.dataset.workers),
    label: c.querySelector('.progress-label')?.textContent ?? '',
    boxes: c.querySelectorAll('[data-testid=overlay] rect').length,
  })));
}

/** A context whose pages see `navigator.hardwareConcurrency` = `cores`: how
 *  many workers the app reads a PDF with does not depend on the test machine. */
async function withCores(ctx, cores) {
  await ctx.addInitScript((n) => Object.defineProperty(navigator, 'hardwareConcurrency', { configurable: true, get: () => n }), cores);
  return ctx;
}

async function test(out) {
  // Two cores: one worker per file, the read the shared one below is compared with.
  const ctx = await withCores(await browser.newContext({ acceptDownloads: true, viewport: { width: 1100, height: 760 } }), 2);
  const requests = record(ctx);
  const errors = [];
  const page = await openApp(ctx, errors);
  out.first_model_status = await page.textContent('[data-testid=model-status]');
  // What the page needed before any file was dropped (the PDF worker must not be among it).
  out.first_load_requests = requests.slice(0);
  out.privacy_note = await page.textContent('[data-testid=privacy]');

  // cpu tier: an image and a 3-page PDF at once.
  await page.setInputFiles('#file-input', [env('OCRCHAT_PHOTOTEST'), env('OCRCHAT_PDF')]);
  const progress = [];
  const poll = setInterval(async () => {
    try { progress.push(await page.$$eval('[data-testid=progress]', (ps) => ps.map((p) => `${p.value}/${p.max}`).join(' '))); } catch {}
  }, 250);
  await waitDone(page);
  clearInterval(poll);
  out.progress_seen = [...new Set(progress)];
  out.cards = await cards(page);

  // Hover a box: its text and confidence appear.
  await page.hover('[data-testid=file-card] >> nth=0 >> [data-testid=overlay] rect >> nth=3');
  out.hover_info = await page.textContent('[data-testid=file-card] >> nth=0 >> [data-testid=hover-info]');
  const shot = env('OCRCHAT_SCREENSHOT');
  if (shot) await page.locator('[data-testid=file-card]').first().screenshot({ path: shot });

  // Every export, made in the worker. Chromium refuses an eleventh download
  // started without a fresh user gesture in one page, so the 3-page PDF's six
  // exports are taken here and the photo's after the reload below.
  out.downloads = [];
  const exportAll = async (cardIndex, label) => {
    const card = page.locator('[data-testid=file-card]').nth(cardIndex);
    for (const f of ['txt', 'md', 'docx', 'pdf', 'csv', 'json']) {
      const [dl] = await Promise.all([
        page.waitForEvent('download', { timeout: TIMEOUT }),
        card.locator(`[data-testid=export-${f}]`).click(),
      ]);
      const path = join(env('OCRCHAT_OUT'), `${label}-${dl.suggestedFilename()}`);
      await dl.saveAs(path);
      out.downloads.push({ card: label, format: f, filename: dl.suggestedFilename(), path });
    }
  };
  await exportAll(1, 1);
  out.cpu_requests = requests.splice(0);

  // Second visit: the models come from the Cache API. The photo is read again
  // and exported; this session's requests must be just as private.
  await page.reload();
  await page.waitForFunction(() => /ready/.test(document.querySelector('[data-testid=model-status]')?.textContent || ''),
    null, { timeout: TIMEOUT });
  out.second_model_status = await page.textContent('[data-testid=model-status]');
  await page.setInputFiles('#file-input', env('OCRCHAT_PHOTOTEST'));
  await waitDone(page);
  await exportAll(0, 0);
  out.second_load_requests = requests.splice(0);

  // A corrupt file fails on its own card; the page keeps working.
  await page.setInputFiles('#file-input', env('OCRCHAT_CORRUPT'));
  await waitDone(page);
  out.corrupt_cards = await cards(page);
  await page.setInputFiles('#file-input', env('OCRCHAT_PHOTOTEST'));
  await waitDone(page);
  out.after_corrupt_cards = await cards(page);

  // Chat on the cpu tier: each file of the question set read here, each
  // question answered by the worker's built-in answerer. Recorded: the text
  // shown, every answer with its citations, and every request meanwhile.
  if (env('OCRCHAT_QA')) {
    requests.splice(0);
    out.chat = [];
    for (const f of JSON.parse(readFileSync(env('OCRCHAT_QA'), 'utf8'))) {
      await page.setInputFiles('#file-input', f.path);
      await waitDone(page);
      const card = page.locator('[data-testid=file-card]').first();
      const answers = [];
      for (const q of f.questions) {
        const before = await card.locator('[data-testid=chat-message]').count();
        await card.locator('[data-testid=chat-input]').fill(q);
        await card.locator('[data-testid=chat-send]').click();
        await page.waitForFunction((n) => document.querySelectorAll('[data-testid=file-card] [data-testid=chat-message]').length >= n + 2,
          before, { timeout: 60_000, polling: 50 });
        answers.push(await card.locator('[data-testid=chat-message]').last().evaluate((li) => ({
          role: li.dataset.role,
          content: li.querySelector('[data-testid=chat-content]')?.textContent ?? '',
          citations: [...li.querySelectorAll('[data-testid=chat-citation]')]
            .map((c) => ({ page: Number(c.dataset.page), snippet: c.dataset.snippet })),
        })));
      }
      out.chat.push({ file: f.name, text: (await cards(page))[0].text, answers });
    }
    out.chat_requests = requests.splice(0);
  }

  // Every script family in the worker: each sample read with its code and
  // with auto, under the model it names (Japanese needs small). Tesseract's
  // wasm and packs come from the server's models on first need.
  if (process.env.OCRCHAT_SCRIPTS) {
    requests.splice(0);
    out.scripts = [];
    const samples = JSON.parse(readFileSync(env('OCRCHAT_SCRIPTS'), 'utf8'));
    for (const model of ['tiny', 'small']) {
      const mine = samples.filter((s) => s.model === model);
      if (mine.length === 0) continue;
      await useModel(page, model);
      out[`languages_${model}`] = await page.$$eval('#language option', (os) => os.map((o) => o.value));
      for (const s of mine) {
        for (const language of [s.code, 'auto']) {
          if (!out[`languages_${model}`].includes(language)) {
            out.scripts.push({ family: s.family, model, language, error: 'not offered' });
            continue;
          }
          await page.selectOption('#language', language);
          const t = Date.now();
          await page.setInputFiles('#file-input', s.path);
          await waitDone(page);
          const card = (await cards(page))[0];
          out.scripts.push({ family: s.family, model, language, text: card.text, error: card.error, ms: Date.now() - t });
        }
      }
    }
    await useModel(page, 'tiny');
    await page.selectOption('#language', 'auto');
    out.scripts_requests = requests.splice(0);
  }

  // A new release while the app is open (OCRCHAT_RELEASE_DIR is the served
  // copy of dist/): another page and service worker. The next visit must show
  // the new page, and the new service worker must replace the old release's
  // cache (then cache the PDF worker again), which the offline checks below use.
  const releaseDir = env('OCRCHAT_RELEASE_DIR');
  out.release_caches_before = await page.evaluate(() => caches.keys());
  const swText = readFileSync(join(releaseDir, 'sw.js'), 'utf8');
  const shell = swText.match(/ocrchat-shell-[0-9a-z]+/)[0];
  out.release_shell_before = shell;
  writeFileSync(join(releaseDir, 'sw.js'), swText.replace(shell, `${shell}next`));
  const indexText = readFileSync(join(releaseDir, 'index.html'), 'utf8');
  writeFileSync(join(releaseDir, 'index.html'), indexText.replace('<head>', '<head><meta name="ocrchat-release" content="next">'));
  for (const f of ['sw.js', 'index.html']) for (const z of ['.br', '.gz']) rmSync(join(releaseDir, f + z), { force: true });
  await page.reload();
  await page.waitForFunction(() => /ready/.test(document.querySelector('[data-testid=model-status]')?.textContent || ''),
    null, { timeout: TIMEOUT });
  out.release_page_seen = await page.evaluate(() => !!document.querySelector('meta[name=ocrchat-release]'));
  const r0 = Date.now();
  const released = async () => {
    const keys = await page.evaluate(() => caches.keys());
    return keys.includes(`${shell}next`) && !keys.includes(shell) && (await shellCache(page)).some((u) => /worker_full_bg[^/]*\.wasm$/.test(u));
  };
  while (!(await released()) && Date.now() - r0 < 120_000) await page.waitForTimeout(250);
  out.release_caches_after = await page.evaluate(() => caches.keys());
  out.release_cached = await shellCache(page);

  // The widget in a plain page that is not the app (same origin, made up here).
  const wctx = await browser.newContext();
  const wreq = record(wctx);
  const wpage = await wctx.newPage();
  const werrors = [];
  wpage.on('pageerror', (e) => werrors.push(String(e)));
  await wpage.route(`${base}plain-test-page.html`, (route) => route.fulfill({
    contentType: 'text/html',
    body: `<!doctype html><html><body><h1>Someone's page</h1><p>Unrelated content.</p>
      <div id="el"></div><script src="/widget.js" data-target="#el"></script></body></html>`,
  }));
  await wpage.goto(`${base}plain-test-page.html`);
  out.widget_mounted = await wpage.$eval('#el', (e) => e.classList.contains('ocrchat-widget') && !!e.querySelector('input[type=file]'));
  await wpage.setInputFiles('#el [data-testid=widget-input]', env('OCRCHAT_PHOTOTEST'));
  await wpage.waitForFunction(() => document.querySelector('#el [data-testid=widget-status]')?.textContent === 'done',
    null, { timeout: TIMEOUT });
  out.widget_text = await wpage.$eval('#el [data-testid=widget-text]', (t) => t.value);
  // A PDF: the widget starts its PDF worker for it.
  await wpage.setInputFiles('#el [data-testid=widget-input]', env('OCRCHAT_PDF'));
  await wpage.waitForFunction(() => document.querySelector('#el [data-testid=widget-status]')?.textContent === 'done',
    null, { timeout: TIMEOUT });
  out.widget_pdf_text = await wpage.$eval('#el [data-testid=widget-text]', (t) => t.value);
  out.widget_requests = wreq;
  out.widget_errors = werrors;
  await wctx.close();

  // A visitor who asked to save data: the PDF worker is not prefetched, and
  // the first PDF still reads (the page fetches that worker on demand). Its
  // device has three cores: the PDF is read by two workers, and its exports
  // must be the one-worker read's above, byte for byte.
  const sctx = await withCores(await browser.newContext({ acceptDownloads: true }), 3);
  await sctx.addInitScript(() => Object.defineProperty(navigator, 'connection',
    { configurable: true, get: () => ({ saveData: true, effectiveType: '4g' }) }));
  const spage = await openApp(sctx, errors);
  await spage.evaluate(() => navigator.serviceWorker.ready.then(() => true));
  await spage.waitForTimeout(5000); // idle time in which a prefetch would have started
  out.save_data_cached = await shellCache(spage);
  const workersAtStart = spage.workers().length;
  await spage.setInputFiles('#file-input', env('OCRCHAT_PDF'));
  out.shared_workers_seen = 0;
  while (await spage.textContent('[data-testid=status]') !== 'done') {
    out.shared_workers_seen = Math.max(out.shared_workers_seen, spage.workers().length - workersAtStart);
    await spage.waitForTimeout(100);
  }
  out.save_data_pdf = await cards(spage);
  out.shared_downloads = [];
  for (const f of ['txt', 'json']) {
    const [dl] = await Promise.all([
      spage.waitForEvent('download', { timeout: TIMEOUT }),
      spage.locator(`[data-testid=file-card] [data-testid=export-${f}]`).click(),
    ]);
    const path = join(env('OCRCHAT_OUT'), `shared-${dl.suggestedFilename()}`);
    await dl.saveAs(path);
    out.shared_downloads.push({ format: f, path });
  }
  await sctx.close();

  // A first visit that reads no file at all, left once its service worker has
  // cached the PDF worker (asked by the page once idle): offline, that worker
  // can only come from there.
  // Its device has three cores, but every helper worker fails to start (a
  // stand-in that refuses to load the model, as a worker whose model cannot
  // be fetched does): the PDF worker reads every page itself.
  const fctx = await withCores(await browser.newContext(), 3);
  await fctx.addInitScript(() => {
    const Real = window.Worker;
    let pdfWorkers = 0;
    const refusing = URL.createObjectURL(new Blob([`postMessage({ type: 'started' });
      onmessage = ({ data }) => { if (data.type === 'load') postMessage({ type: 'error', job: null, message: 'helper refused' }); };`],
      { type: 'text/javascript' }));
    window.Worker = class extends Real {
      constructor(url, options) { super(/worker_full/.test(String(url)) && ++pdfWorkers > 1 ? refusing : url, options); }
    };
  });
  const fpage = await openApp(fctx, errors);
  out.helper_warnings = [];
  fpage.on('console', (m) => { if (/helper worker stopped/.test(m.text())) out.helper_warnings.push(m.text()); });
  await fpage.evaluate(() => navigator.serviceWorker.ready.then(() => true));
  const t0 = Date.now();
  while (!(await shellCache(fpage)).some((u) => /worker_full_bg[^/]*\.wasm$/.test(u)) && Date.now() - t0 < 120_000) {
    await fpage.waitForTimeout(250);
  }
  out.idle_prefetch_cached = await shellCache(fpage);

  // Offline for real: the server is stopped (Chromium's offline emulation
  // does not cover service workers, which would still reach the network).
  process.kill(Number(env('OCRCHAT_SERVER_PID')), 'SIGKILL');
  for (let i = 0; i < 100; i++) {
    try { await fetch(base); await new Promise((r) => setTimeout(r, 100)); } catch { break; }
  }
  const offline = async (p, files, language) => {
    await p.reload();
    await p.waitForFunction(() => /ready/.test(document.querySelector('[data-testid=model-status]')?.textContent || ''),
      null, { timeout: 60_000 });
    if (language) await p.selectOption('#language', language);
    await p.setInputFiles('#file-input', files);
    await waitDone(p);
    return cards(p);
  };
  // The app used above (both workers ran there): a photo and the PDF again.
  try { out.offline_cards = await offline(page, [env('OCRCHAT_PHOTOTEST'), env('OCRCHAT_PDF')]); }
  catch (e) { out.offline_error = String(e); }
  // A script Tesseract reads, with its code and with auto: its pack and
  // tesseract-wasm come from the Cache API.
  if (process.env.OCRCHAT_SCRIPTS) {
    const cyrillic = JSON.parse(readFileSync(env('OCRCHAT_SCRIPTS'), 'utf8')).find((s) => s.family === 'Cyrillic');
    for (const language of [cyrillic.code, 'auto']) {
      try { out[`offline_script_${language}`] = await offline(page, cyrillic.path, language); }
      catch (e) { out[`offline_script_${language}_error`] = String(e); }
    }
  }
  try { out.offline_first_visit_pdf = await offline(fpage, env('OCRCHAT_PDF')); }
  catch (e) { out.offline_first_visit_error = String(e); }
  out.page_errors = errors;
  await fctx.close();
  await ctx.close();
}

/** URLs in the service worker's app cache (`ocrchat-shell-*`). */
async function shellCache(page) {
  return page.evaluate(async () => {
    const urls = [];
    for (const name of (await caches.keys()).filter((n) => n.startsWith('ocrchat-shell-'))) {
      for (const r of await (await caches.open(name)).keys()) urls.push(r.url);
    }
    return urls;
  });
}

/** Bytes on the wire so far, from the browser's resource timing (`transferSize`:
 *  headers + encoded body, 0 for a cache hit) of the page and each of its
 *  dedicated workers (the OCR engines fetch their code and models there). */
async function transferred(page) {
  const collect = () => [...performance.getEntriesByType('navigation'), ...performance.getEntriesByType('resource')]
    .map((e) => ({ url: e.name, transfer: e.transferSize, encoded: e.encodedBodySize, decoded: e.decodedBodySize }));
  const entries = await page.evaluate(collect);
  for (const w of page.workers()) {
    try { entries.push(...await w.evaluate(collect)); } catch {}
  }
  return entries;
}

/** The same from the network layer (CDP, through playwright): every finished
 *  request of `ctx`, the service worker's included. */
function wire(ctx) {
  const log = [];
  ctx.on('requestfinished', async (r) => {
    try {
      const s = await r.sizes();
      log.push({ url: r.url(), service_worker: !!r.serviceWorker(), bytes: s.responseBodySize + s.responseHeadersSize });
    } catch {}
  });
  return log;
}

// ocrchat (tiny, then small in the same context) and tesseract.js, each from
// a first visit in a fresh context: start-up (navigation → ready), bytes on
// the wire to the first result, then drop → text for every file.
async function bench(out) {
  out.runs = [];
  out.visits = [];
  const files = env('OCRCHAT_BENCH_FILES').split(',');
  const repeat = Math.max(1, Number(env('OCRCHAT_BENCH_REPEAT', '1')) || 1);
  const engines = [
    { engine: 'ocrchat', url: base, models: ['tiny', 'small'] },
    ...(env('OCRCHAT_BENCH_TJS_URL') ? [{ engine: 'tesseract.js', url: env('OCRCHAT_BENCH_TJS_URL'), models: ['eng'] }] : []),
  ];
  for (const { engine, url, models } of engines) {
    const ctx = await browser.newContext({ viewport: { width: 1100, height: 760 } });
    const log = wire(ctx);
    const errors = [];
    await ctx.addInitScript(() => {
      window.__longtasks = [];
      new PerformanceObserver((l) => { for (const e of l.getEntries()) window.__longtasks.push(e.duration); })
        .observe({ type: 'longtask', buffered: true });
    });
    const page = await ctx.newPage();
    page.on('pageerror', (e) => errors.push(String(e)));
    const t0 = Date.now();
    await page.goto(url);
    await page.waitForFunction(() => /ready/.test(document.querySelector('[data-testid=model-status]')?.textContent || ''),
      null, { timeout: TIMEOUT, polling: 50 });
    const visit = { engine, startup_ms: Date.now() - t0 };
    // The pages' language, as tesseract.js reads them with `eng` (and the
    // native bench gives ocrchat `--language en`); unset = the app's `auto`.
    const language = process.env.OCRCHAT_BENCH_LANGUAGE;
    if (engine === 'ocrchat' && language) {
      await page.waitForSelector(`#language option[value="${language}"]`, { state: 'attached', timeout: TIMEOUT });
      await page.selectOption('#language', language);
    }
    visit.language = engine === 'ocrchat' ? language || 'auto' : 'eng';
    for (const model of models) {
      if (model === 'small') await useModel(page, model);
      for (const file of files) {
        // Each page is dropped `repeat` times in a row: the fastest is its
        // time (a shared machine's neighbours only ever add time), the long
        // tasks are those of every drop.
        const run = { engine, model, file, runs_ms: [], longtasks: [] };
        for (let i = 0; i < repeat; i++) {
          // Cleared first: choosing the file the input already holds fires
          // no `change` (tesseract.js's page would not read it again).
          await page.$eval('#file-input', (e) => { e.value = ''; });
          await page.evaluate(() => { window.__longtasks = []; });
          const t = Date.now();
          await page.setInputFiles('#file-input', file);
          await waitDone(page);
          run.runs_ms.push(Date.now() - t);
          run.text = await page.$eval('[data-testid=result-text]', (e) => e.value);
          run.error = await page.$eval('[data-testid=error]', (e) => e.textContent).catch(() => null);
          run.longtasks.push(...await page.evaluate(() => window.__longtasks));
          if (!visit.first_result) {
            visit.first_result = await transferred(page);
            visit.first_result_wire = log.filter((r) => !r.service_worker).map((r) => ({ ...r }));
          }
        }
        run.ms = Math.min(...run.runs_ms);
        out.runs.push(run);
      }
    }
    visit.wire_all = log.map((r) => ({ ...r }));
    visit.errors = errors;
    out.visits.push(visit);
    await ctx.close();
  }
}

// Drives headless Chromium (Debian's, through playwright-core) against the app
// served by `ocrchat serve`, and prints what it saw as JSON on stdout. The
// assertions live in tests/tests/browser.rs; this script only acts and records,
// so a broken app shows up as wrong data there, not as a silent pass here.
//
// env: OCRCHAT_BASE_URL (http://127.0.0.1:PORT/), OCRCHAT_NPM_DIR (playwright-core),
//      OCRCHAT_CHROMIUM (default /usr/bin/chromium), OCRCHAT_OUT (download dir),
//      OCRCHAT_SCREENSHOT (png path); files: OCRCHAT_PHOTOTEST, OCRCHAT_PDF, OCRCHAT_CORRUPT;
//      OCRCHAT_QA (optional): JSON [{name, path, questions: [...]}] asked in the cpu tier's chat.
// mode `bench`: OCRCHAT_BENCH_FILES (comma list), times drop → text per model.
import { readFileSync } from 'node:fs';
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
    boxes: c.querySelectorAll('[data-testid=overlay] rect').length,
  })));
}

async function test(out) {
  const ctx = await browser.newContext({ acceptDownloads: true, viewport: { width: 1100, height: 760 } });
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

  // A first visit that reads no file at all, left once its service worker is
  // installed: offline, its PDF worker can only come from the precache.
  const fctx = await browser.newContext();
  const fpage = await openApp(fctx, errors);
  await fpage.evaluate(() => navigator.serviceWorker.ready.then(() => true));

  // Offline for real: the server is stopped (Chromium's offline emulation
  // does not cover service workers, which would still reach the network).
  process.kill(Number(env('OCRCHAT_SERVER_PID')), 'SIGKILL');
  for (let i = 0; i < 100; i++) {
    try { await fetch(base); await new Promise((r) => setTimeout(r, 100)); } catch { break; }
  }
  const offline = async (p, files) => {
    await p.reload();
    await p.waitForFunction(() => /ready/.test(document.querySelector('[data-testid=model-status]')?.textContent || ''),
      null, { timeout: 60_000 });
    await p.setInputFiles('#file-input', files);
    await waitDone(p);
    return cards(p);
  };
  // The app used above (both workers ran there): a photo and the PDF again.
  try { out.offline_cards = await offline(page, [env('OCRCHAT_PHOTOTEST'), env('OCRCHAT_PDF')]); }
  catch (e) { out.offline_error = String(e); }
  try { out.offline_first_visit_pdf = await offline(fpage, env('OCRCHAT_PDF')); }
  catch (e) { out.offline_first_visit_error = String(e); }
  out.page_errors = errors;
  await fctx.close();
  await ctx.close();
}

async function bench(out) {
  out.runs = [];
  for (const model of ['tiny', 'small']) {
    const ctx = await browser.newContext({ viewport: { width: 1100, height: 760 } });
    const errors = [];
    await ctx.addInitScript(() => {
      window.__longtasks = [];
      new PerformanceObserver((l) => { for (const e of l.getEntries()) window.__longtasks.push(e.duration); })
        .observe({ type: 'longtask', buffered: true });
    });
    const page = await openApp(ctx, errors);
    if (model !== 'tiny') {
      await page.selectOption('#model', model);
      await page.waitForFunction((m) => new RegExp(`${m} model ready`).test(document.querySelector('[data-testid=model-status]')?.textContent || ''),
        model, { timeout: TIMEOUT });
    }
    for (const file of env('OCRCHAT_BENCH_FILES').split(',')) {
      await page.evaluate(() => { window.__longtasks = []; });
      const t0 = Date.now();
      await page.setInputFiles('#file-input', file);
      await waitDone(page);
      const ms = Date.now() - t0;
      const c = (await cards(page))[0];
      const longtasks = await page.evaluate(() => window.__longtasks);
      out.runs.push({ model, file, ms, text: c.text, error: c.error, longtasks });
    }
    out.errors = (out.errors || []).concat(errors);
    await ctx.close();
  }
}

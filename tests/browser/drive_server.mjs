// Drives headless Chromium for the parts of the app that involve the server:
// the vlm tier and chat (`vlm` mode) and the widget embedded in a page of
// another origin (`widget` mode). Like drive.mjs it only acts and records,
// printing JSON on stdout; tests/tests/browser.rs compares what the page
// showed with what the server's API says.
//
// env (both): OCRCHAT_BASE_URL (http://127.0.0.1:PORT/ of `ocrchat serve`),
//      OCRCHAT_NPM_DIR (playwright-core), OCRCHAT_CHROMIUM, OCRCHAT_PHOTOTEST.
// vlm: OCRCHAT_TOKEN (an account with credits), OCRCHAT_QUESTION,
//      OCRCHAT_EXHAUSTED_TOKEN (an account whose pages are used up),
//      OCRCHAT_NOVLM_URL + OCRCHAT_NOVLM_TOKEN (a server without a vision model).
import { createServer } from 'node:http';
import { env, launch } from './chromium.mjs';

const TIMEOUT = 300_000;

const browser = await launch();
const out = { page_errors: [], console_errors: [] };
try {
  if (process.argv[2] === 'widget') await widget(out); else await vlm(out);
} finally {
  await browser.close();
}
console.log(JSON.stringify(out));

function watch(page) {
  page.on('pageerror', (e) => out.page_errors.push(String(e)));
  // Chromium's "Failed to load resource" names no URL: the failed response does.
  page.on('console', (m) => { if (m.type() === 'error') out.console_errors.push(m.text()); });
  page.on('response', (r) => { if (r.status() >= 400) out.console_errors.push(`HTTP ${r.status()}: ${r.url()}`); });
}

/** Opens the app at `base`, picks the vlm tier and types `token`. */
async function openVlm(ctx, base, token) {
  const page = await ctx.newPage();
  watch(page);
  await page.goto(base);
  await page.selectOption('[data-testid=tier]', 'vlm');
  if (token !== undefined) await page.fill('[data-testid=token]', token);
  return page;
}

/** The first card once the status line says `done` (cards of an earlier
 *  batch are marked stale before each upload, so they never count). */
async function waitCard(page) {
  await page.waitForFunction(() => document.querySelector('[data-testid=status]')?.textContent === 'done'
      && !document.querySelector('[data-testid=file-card]')?.dataset.stale,
    null, { timeout: TIMEOUT, polling: 100 });
  return page.$eval('[data-testid=file-card]', (c) => ({
    text: c.querySelector('[data-testid=result-text]')?.value ?? '',
    markdown: c.querySelector('[data-testid=result-markdown]')?.textContent ?? '',
    error: c.querySelector('[data-testid=error]')?.textContent ?? null,
    progress_label: c.querySelector('.progress-label')?.textContent ?? '',
    chat_shown: !!c.querySelector('[data-testid=chat]'),
  }));
}

async function markStale(page) {
  await page.$$eval('[data-testid=file-card]', (cs) => cs.forEach((c) => { c.dataset.stale = '1'; }));
}

/** Reads `file` with the current settings; its card. */
async function readFile(page, file) {
  await markStale(page);
  await page.setInputFiles('#file-input', file);
  return waitCard(page);
}

async function vlm(out) {
  const base = env('OCRCHAT_BASE_URL');
  const ctx = await browser.newContext();
  let page = await openVlm(ctx, base, env('OCRCHAT_TOKEN'));

  // The token is kept in this browser: a reload finds it again.
  await page.reload();
  await page.selectOption('[data-testid=tier]', 'vlm');
  out.token_after_reload = await page.inputValue('[data-testid=token]');
  out.token_in_storage = await page.evaluate(() => localStorage.getItem('ocrchat.token'));
  out.privacy_note = await page.textContent('[data-testid=privacy]');

  // The upload goes to the API; its job uuid lets the test ask the API itself.
  const [submitted] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith('/api/v1/ocr/') && r.request().method() === 'POST', { timeout: TIMEOUT }),
    page.setInputFiles('#file-input', env('OCRCHAT_PHOTOTEST')),
  ]);
  out.submit_status = submitted.status();
  out.submit_authorization = (await submitted.request().allHeaders()).authorization ?? null;
  out.uuid = (await submitted.json()).uuid;
  out.card = await waitCard(page);

  // Chat: ask, wait for the answer (or an error line).
  await page.fill('[data-testid=chat-input]', env('OCRCHAT_QUESTION'));
  await page.click('[data-testid=chat-send]');
  await page.waitForFunction(() => document.querySelectorAll('[data-testid=chat-message]').length >= 2,
    null, { timeout: TIMEOUT, polling: 100 });
  out.chat = await page.$$eval('[data-testid=chat-message]', (ms) => ms.map((m) => ({
    role: m.dataset.role,
    content: m.querySelector('[data-testid=chat-content]')?.textContent ?? '',
    citations: [...m.querySelectorAll('[data-testid=chat-citation]')].map((c) => ({ page: Number(c.dataset.page), text: c.textContent })),
  })));

  // An account whose pages are used up: the 402 is explained on the card.
  await page.fill('[data-testid=token]', env('OCRCHAT_EXHAUSTED_TOKEN'));
  out.exhausted_card = await readFile(page, env('OCRCHAT_PHOTOTEST'));
  await ctx.close();

  // A server without a vision model: the 501 is explained on the card.
  const nctx = await browser.newContext();
  page = await openVlm(nctx, env('OCRCHAT_NOVLM_URL'), env('OCRCHAT_NOVLM_TOKEN'));
  out.novlm_card = await readFile(page, env('OCRCHAT_PHOTOTEST'));
  await nctx.close();
}

/** A plain page on its own origin (a real HTTP server on another port) that
 *  embeds the widget from `ocrchat serve`, and reads the photo with it. */
async function widget(out) {
  const server = new URL(env('OCRCHAT_BASE_URL'));
  // No favicon request: every request this page makes is the widget's.
  const html = `<!doctype html><html><head><meta charset="utf-8"><link rel="icon" href="data:,"><title>Someone's page</title></head>
    <body><h1>Someone's page</h1><p>Unrelated content.</p><div id="el"></div>
    <script src="${new URL('widget.js', server)}" data-target="#el"></script></body></html>`;
  const site = createServer((req, res) => {
    if (req.url === '/') { res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }); res.end(html); } else { res.writeHead(404); res.end(); }
  });
  await new Promise((ok) => site.listen(0, '127.0.0.1', ok));
  out.page_origin = `http://127.0.0.1:${site.address().port}`;
  out.server_origin = server.origin;
  try {
    const ctx = await browser.newContext();
    // Requests to the ocrchat server with the CORS headers of their answers.
    out.requests = [];
    ctx.on('requestfinished', async (r) => {
      if (!r.url().startsWith(server.origin)) return;
      const resp = await r.response();
      out.requests.push({
        url: r.url(), method: r.method(), origin: (await r.allHeaders()).origin ?? null,
        status: resp?.status(), allow_origin: resp ? (await resp.allHeaders())['access-control-allow-origin'] ?? null : null,
      });
    });
    ctx.on('requestfailed', (r) => out.console_errors.push(`request failed: ${r.url()} ${r.failure()?.errorText}`));
    const page = await ctx.newPage();
    watch(page);
    await page.goto(`${out.page_origin}/`);
    out.location_origin = await page.evaluate(() => location.origin);
    out.widget_mounted = await page.$eval('#el', (e) => e.classList.contains('ocrchat-widget') && !!e.querySelector('input[type=file]'));
    await page.waitForFunction(() => /ready|error/.test(document.querySelector('#el [data-testid=widget-status]')?.textContent || ''),
      null, { timeout: TIMEOUT, polling: 100 });
    out.ready_status = await page.textContent('#el [data-testid=widget-status]');
    await page.setInputFiles('#el [data-testid=widget-input]', env('OCRCHAT_PHOTOTEST'));
    await page.waitForFunction(() => /^(done|error)/.test(document.querySelector('#el [data-testid=widget-status]')?.textContent || ''),
      null, { timeout: TIMEOUT, polling: 100 });
    out.widget_status = await page.textContent('#el [data-testid=widget-status]');
    out.widget_text = await page.$eval('#el [data-testid=widget-text]', (t) => t.value);
    await ctx.close();
  } finally {
    site.close();
  }
}

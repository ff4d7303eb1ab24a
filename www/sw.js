// ocrchat service worker: the app works offline after the first visit.
// Files whose name carries a content hash (name-<16 hex>.ext, given by
// scripts/web_assets.py at build time) never change: served from the cache
// first. Files at stable names (the page, the worker loaders, widget.js):
// network first (a new release wins as soon as the network answers), the
// cached copy when offline. The build step rewrites the names below to the
// hashed ones and SHELL to the release's hash, so a release changes this
// file's bytes and the browser installs it on the next visit; activating it
// drops the previous release's cache. Models are not handled here: the OCR
// workers keep them in the Cache API themselves, keyed by sha256. The API is
// never cached.
const SHELL = 'ocrchat-shell-dev';
const HASHED = /-[0-9a-f]{16}\.[a-z]+$/;
// What the page itself loaded on this visit: hashed files are taken from the
// HTTP cache (`force-cache`), so installing does not download them a second
// time; stable names are revalidated (an old copy would name old files).
const LOADED = ['./', 'index.html', 'style.css', 'ocrchat-app.js', 'ocrchat-app_bg.wasm',
  'worker_loader.js', 'worker.js', 'worker_bg.wasm', 'widget.js'];
// The PDF-reading worker, started only when a PDF arrives. The page asks for
// it (message `prefetch-pdf-worker`) once it is idle and the visitor does not
// save data, so PDFs also read offline; otherwise the first PDF fetches it.
const PDF_WORKER = ['worker_full_loader.js', 'worker_full.js', 'worker_full_bg.wasm'];

const fetchFresh = (f) => fetch(f, { cache: HASHED.test(f) ? 'force-cache' : 'no-cache' });

self.addEventListener('install', (event) => {
  event.waitUntil(
    caches.open(SHELL)
      .then((c) => Promise.all(LOADED.map((f) => fetchFresh(f).then((r) => (r.ok ? c.put(f, r) : undefined)))))
      .then(() => self.skipWaiting()),
  );
});

self.addEventListener('activate', (event) => {
  // Drop the caches of other releases.
  event.waitUntil(caches.keys()
    .then((keys) => Promise.all(keys.filter((k) => k.startsWith('ocrchat-shell-') && k !== SHELL).map((k) => caches.delete(k))))
    .then(() => self.clients.claim()));
});

// One download at a time, however often the page asks (each load and each
// change of release does).
let prefetching = null;
self.addEventListener('message', (event) => {
  if (event.data !== 'prefetch-pdf-worker') return;
  prefetching ||= caches.open(SHELL).then((c) => Promise.all(PDF_WORKER.map(async (f) => {
    if (await c.match(f)) return;
    const r = await fetchFresh(f);
    if (r.ok) await c.put(f, r);
  })))
    .catch(() => undefined) // offline or full: the first PDF fetches it instead
    .finally(() => { prefetching = null; });
  event.waitUntil(prefetching);
});

self.addEventListener('fetch', (event) => {
  const req = event.request;
  const url = new URL(req.url);
  const scope = new URL(self.registration.scope);
  if (req.method !== 'GET' || url.origin !== scope.origin) return;
  const path = url.pathname.slice(scope.pathname.length - 1);
  if (path.startsWith('/api/') || path.startsWith('/models/')) return;
  // ignoreVary: the server answers `Vary: origin, accept-encoding`, and module
  // scripts (crossorigin) are requested with headers the precache did not send.
  const cached = () => caches.match(req, { ignoreSearch: true, ignoreVary: true });
  const network = () => fetch(req).then((resp) => {
    if (resp.ok) {
      const copy = resp.clone();
      caches.open(SHELL).then((c) => c.put(req, copy));
    }
    return resp;
  });
  event.respondWith(HASHED.test(path)
    ? cached().then((hit) => hit || network())
    : network().catch(() => cached().then((hit) => hit || Response.error())));
});

// ocrchat service worker: the app works offline after the first visit.
// App files: network first (a new build wins as soon as the network answers),
// the cached copy when offline. Models are not handled here: the OCR workers
// keep them in the Cache API themselves, keyed by sha256. The API is never cached.
const SHELL = 'ocrchat-shell-v2';
// What the page itself loaded on this first visit: taken from the HTTP cache
// (`force-cache`), so installing does not download them a second time.
const LOADED = ['./', 'index.html', 'style.css', 'ocrchat-app.js', 'ocrchat-app_bg.wasm',
  'worker_loader.js', 'worker.js', 'worker_bg.wasm', 'widget.js'];
// The PDF-reading worker, started only when a PDF arrives: fetched here so
// PDFs can be read offline too. The page registers this service worker only
// once its model is ready, so this never competes with the first load.
const ON_DEMAND = ['worker_full_loader.js', 'worker_full.js', 'worker_full_bg.wasm'];

self.addEventListener('install', (event) => {
  event.waitUntil(
    caches.open(SHELL)
      .then((c) => Promise.all([
        ...LOADED.map((f) => fetch(f, { cache: 'force-cache' }).then((r) => (r.ok ? c.put(f, r) : undefined))),
        c.addAll(ON_DEMAND),
      ]))
      .then(() => self.skipWaiting()),
  );
});

self.addEventListener('activate', (event) => {
  // Drop the caches of older versions of this file.
  event.waitUntil(caches.keys()
    .then((keys) => Promise.all(keys.filter((k) => k.startsWith('ocrchat-shell-') && k !== SHELL).map((k) => caches.delete(k))))
    .then(() => self.clients.claim()));
});

self.addEventListener('fetch', (event) => {
  const req = event.request;
  const url = new URL(req.url);
  const scope = new URL(self.registration.scope);
  if (req.method !== 'GET' || url.origin !== scope.origin) return;
  const path = url.pathname.slice(scope.pathname.length - 1);
  if (path.startsWith('/api/') || path.startsWith('/models/')) return;
  event.respondWith(
    fetch(req)
      .then((resp) => {
        if (resp.ok) {
          const copy = resp.clone();
          caches.open(SHELL).then((c) => c.put(req, copy));
        }
        return resp;
      })
      // ignoreVary: the server's CORS layer answers `Vary: origin`, and module
      // scripts (crossorigin) are requested with headers the precache did not send.
      .catch(() => caches.match(req, { ignoreSearch: true, ignoreVary: true }).then((hit) => hit || Response.error())),
  );
});

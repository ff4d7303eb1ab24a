// ocrchat service worker: the app works offline after the first visit.
// App files: network first (a new build wins as soon as the network answers),
// the cached copy when offline. Models are not handled here: the OCR worker
// keeps them in the Cache API itself, keyed by sha256. The API is never cached.
const SHELL = 'ocrchat-shell-v1';
const FILES = ['./', 'index.html', 'style.css', 'ocrchat-app.js', 'ocrchat-app_bg.wasm',
  'worker_loader.js', 'worker.js', 'worker_bg.wasm', 'widget.js'];

self.addEventListener('install', (event) => {
  // Precache so the first visit is enough (its own requests happened before
  // this worker controlled the page).
  event.waitUntil(caches.open(SHELL).then((c) => c.addAll(FILES)).then(() => self.skipWaiting()));
});

self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));

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
      .catch(() => caches.match(req, { ignoreSearch: true }).then((hit) => hit || Response.error())),
  );
});

// Offline support: every asset of the built site is cached at install, then served from the
// cache first. build/build_site.py fills in the asset list and a version derived from the
// assets' contents, so a new build replaces the old cache.
const VERSION = "__VERSION__";
const ASSETS = __ASSETS__;
const CACHE = `agentdb-${VERSION}`;

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(ASSETS)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil((async () => {
    for (const key of await caches.keys()) if (key !== CACHE) await caches.delete(key);
    await self.clients.claim();
  })());
});

self.addEventListener("fetch", (event) => {
  if (event.request.method !== "GET") return;
  event.respondWith((async () => {
    const cache = await caches.open(CACHE);
    const hit = await cache.match(event.request, { ignoreSearch: true });
    if (hit) return hit;
    const response = await fetch(event.request);
    if (response.ok && new URL(event.request.url).origin === location.origin) cache.put(event.request, response.clone());
    return response;
  })());
});

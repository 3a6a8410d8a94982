// Offline support: every asset of the built site is cached at install, then served from the
// cache first. build/build_site.py fills in the asset lists and versions derived from the
// assets' contents, so a new build replaces the old cache. The model's files live in a cache
// of their own, versioned by their contents alone: a new build of the app keeps them. The
// default model's files are precached with the app; the int8 weights are cached on first use.
const VERSION = "__VERSION__";
const ASSETS = __ASSETS__;
const MODEL_VERSION = "__MODEL_VERSION__";
const MODEL_ASSETS = __MODEL_ASSETS__;
const CACHE = `agentdb-${VERSION}`;
const MODEL_CACHE = `agentdb-model-${MODEL_VERSION}`;
const MODELS = new URL("./models/", location).pathname;

self.addEventListener("install", (event) => {
  event.waitUntil((async () => {
    await (await caches.open(CACHE)).addAll(ASSETS);
    const model = await caches.open(MODEL_CACHE);
    const missing = [];
    for (const url of MODEL_ASSETS) if (!(await model.match(url))) missing.push(url);   // kept from an earlier build
    await model.addAll(missing);
    await self.skipWaiting();
  })());
});

self.addEventListener("activate", (event) => {
  event.waitUntil((async () => {
    for (const key of await caches.keys()) if (key !== CACHE && key !== MODEL_CACHE) await caches.delete(key);
    await self.clients.claim();
  })());
});

self.addEventListener("fetch", (event) => {
  if (event.request.method !== "GET") return;
  event.respondWith((async () => {
    const url = new URL(event.request.url);
    const cache = await caches.open(url.pathname.startsWith(MODELS) ? MODEL_CACHE : CACHE);
    const hit = await cache.match(event.request, { ignoreSearch: true });
    if (hit) return hit;
    const response = await fetch(event.request);
    if (response.ok && url.origin === location.origin) event.waitUntil(cache.put(event.request, response.clone()));
    return response;
  })());
});

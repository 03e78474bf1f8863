/*
 * Usage: navigator.serviceWorker.register("sw.js") from lib/main.js (scope /app/).
 *
 * Caches the app shell under a versioned name (bump SHELL_VERSION on every
 * release; older caches are deleted on activate). Navigations get the cached
 * shell (the wall screen gets its own page under wall/); other app files are
 * cache-first. /api/ and /ws/ are never cached.
 */

const SHELL_VERSION = "v9";
const SHELL_CACHE = `wes-shell-${SHELL_VERSION}`;
const SHELL_FILES = [
  "./",
  "index.html",
  "app.css",
  "manifest.webmanifest",
  "icons/icon-192.png",
  "icons/icon-512.png",
  "lib/main.js",
  "lib/api.js",
  "lib/scanner.js",
  "lib/session.js",
  "lib/settings.js",
  "lib/dom.js",
  "lib/feedback-banner.js",
  "lib/sounds.js",
  "lib/app-shell.js",
  "lib/scan-field.js",
  "lib/login-screen.js",
  "lib/home-screen.js",
  "lib/receive-screen.js",
  "lib/putaway-screen.js",
  "lib/scan-check-screen.js",
  "lib/outbox.js",
  "lib/socket-link.js",
  "lib/device-link.js",
  "lib/work-session.js",
  "lib/enroll-card.js",
  "lib/pick-screen.js",
  "lib/work-screen.js",
  "lib/replenish-screen.js",
  "lib/count-screen.js",
  "lib/pack-screen.js",
  "lib/ship-screen.js",
  "wall/",
  "wall/index.html",
  "wall/wall.js",
  "wall/wall.css",
  "wall/wall-link.js",
  "wall/wall-panels.js",
  "wall/floor-map.js",
  "wall/desk.js",
  "wall/desk-task.js",
  "wall/desk-waves.js",
  "wall/desk-details.js",
];

self.addEventListener("install", (event) => {
  event.waitUntil((async () => {
    const cache = await caches.open(SHELL_CACHE);
    await cache.addAll(SHELL_FILES);
    await self.skipWaiting();
  })());
});

self.addEventListener("activate", (event) => {
  event.waitUntil((async () => {
    const names = await caches.keys();
    await Promise.all(names.filter((n) => n.startsWith("wes-shell-") && n !== SHELL_CACHE).map((n) => caches.delete(n)));
    await self.clients.claim();
  })());
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (url.pathname.startsWith("/api/") || url.pathname.startsWith("/ws/")) return; // live data: network only
  if (request.mode === "navigate") {
    event.respondWith(shellFor(request));
    return;
  }
  event.respondWith(cacheFirst(request));
});

async function shellFor(request) {
  const cache = await caches.open(SHELL_CACHE);
  const wall = new URL(request.url).pathname.startsWith(new URL("wall/", self.registration.scope).pathname);
  const shell = await cache.match(wall ? "wall/index.html" : "index.html");
  if (shell) return shell;
  return fetch(request);
}

async function cacheFirst(request) {
  const cache = await caches.open(SHELL_CACHE);
  const hit = await cache.match(request, { ignoreSearch: true });
  if (hit) return hit;
  return fetch(request);
}

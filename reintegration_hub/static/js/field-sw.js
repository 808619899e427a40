// The service worker of the field page (/follow-up/field/): it keeps the page, its files and
// the list of visits and surveys to make, so that the page opens without a connection.
// Network first: online, every answer is fresh and replaces the kept copy; offline, the kept
// copy answers. Answers are not here: the page keeps them in IndexedDB and sends them itself.
// Signing out deletes all of it (Clear-Site-Data, and the page's own clean-up).
"use strict";

const CACHE = "hub-field-v1";

self.addEventListener("install", () => {
  self.skipWaiting();
});

self.addEventListener("activate", (event) => {
  event.waitUntil((async () => {
    for (const name of await caches.keys()) {
      if (name.startsWith("hub-field-") && name !== CACHE) {
        await caches.delete(name);
      }
    }
    await self.clients.claim();
  })());
});

// Only complete, same-origin answers of the signed-in user are kept: never a redirect (to the
// sign-in page, when the session ended) or an error.
function keepable(response) {
  return response.ok && response.status === 200 && !response.redirected && response.type === "basic";
}

async function keep(urls) {
  const cache = await caches.open(CACHE);
  await Promise.all(urls.map(async (url) => {
    try {
      const response = await fetch(url, { credentials: "same-origin", cache: "no-store" });
      if (keepable(response)) {
        await cache.put(url, response);
      }
    } catch (error) {
      // offline: what was kept before stays
    }
  }));
}

// The page names what it needs (itself, its files, the list); the answer says it is kept.
self.addEventListener("message", (event) => {
  const data = event.data || {};
  if (data.type !== "keep" || !Array.isArray(data.urls)) {
    return;
  }
  const sameOrigin = data.urls.filter((url) => new URL(url, self.location.href).origin === self.location.origin);
  event.waitUntil(keep(sameOrigin).then(() => {
    if (event.ports && event.ports[0]) {
      event.ports[0].postMessage({ type: "kept" });
    }
  }));
});

async function networkFirst(request) {
  const cache = await caches.open(CACHE);
  try {
    const response = await fetch(request);
    if (keepable(response)) {
      await cache.put(request.url, response.clone());
    }
    return response;
  } catch (error) {
    const kept = await cache.match(request.url, { ignoreVary: true });
    if (kept) {
      return kept;
    }
    throw error;
  }
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET" || new URL(request.url).origin !== self.location.origin) {
    return; // answers go to the network as they are (POST), and nothing of other sites
  }
  event.respondWith(networkFirst(request));
});

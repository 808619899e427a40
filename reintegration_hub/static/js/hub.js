// Progressive enhancement only: every form still works without this file.
document.querySelectorAll("form.js-autosubmit select").forEach((select) => {
  select.form.querySelectorAll(".js-hide-when-auto").forEach((el) => el.classList.add("d-none"));
  select.addEventListener("change", () => select.form.submit());
});
// A header checkbox ticks or clears every row checkbox of its name (the case list's selection).
document.querySelectorAll("input.js-select-all").forEach((all) => {
  const rows = () => document.querySelectorAll(`input[type=checkbox][name="${all.dataset.select}"]`);
  all.addEventListener("change", () => rows().forEach((row) => { row.checked = all.checked; }));
});
// Signing out deletes what the field page keeps on this device (the sign-out's Clear-Site-Data
// header does too, where the browser honours it): answers recorded offline and not sent yet
// would be lost, so the user is asked first.
(() => {
  const FIELD_STORE = "hub-field";
  const settle = (promise) => Promise.race([promise.catch(() => 0), new Promise((r) => setTimeout(() => r(0), 2000))]);
  const unsentAnswers = () => settle(new Promise((resolve) => {
    if (!window.indexedDB || !indexedDB.databases) {
      resolve(0);
      return;
    }
    indexedDB.databases().then((found) => {
      if (!found.some((db) => db.name === FIELD_STORE)) {
        resolve(0);
        return;
      }
      const opening = indexedDB.open(FIELD_STORE);
      opening.onerror = () => resolve(0);
      opening.onsuccess = () => {
        const db = opening.result;
        if (!db.objectStoreNames.contains("answers")) {
          db.close();
          resolve(0);
          return;
        }
        const counting = db.transaction("answers").objectStore("answers").count();
        counting.onsuccess = () => { db.close(); resolve(counting.result); };
        counting.onerror = () => { db.close(); resolve(0); };
      };
    }, () => resolve(0));
  }));
  const forgetField = () => settle(Promise.all([
    new Promise((resolve) => {
      const deleting = window.indexedDB ? indexedDB.deleteDatabase(FIELD_STORE) : null;
      if (!deleting) { resolve(); return; }
      deleting.onsuccess = deleting.onerror = deleting.onblocked = () => resolve();
    }),
    window.caches ? caches.keys().then((names) => Promise.all(
      names.filter((name) => name.startsWith("hub-field-")).map((name) => caches.delete(name)))) : null,
    navigator.serviceWorker ? navigator.serviceWorker.getRegistrations().then((found) => Promise.all(
      found.map((registration) => registration.unregister()))) : null,
  ]));
  document.querySelectorAll("form[data-unsent-warning]").forEach((form) => {
    form.addEventListener("submit", (event) => {
      if (form.dataset.cleared) {
        return;
      }
      event.preventDefault();
      unsentAnswers().then((count) => {
        if (count && !window.confirm(form.dataset.unsentWarning)) {
          return;
        }
        forgetField().then(() => {
          form.dataset.cleared = "1";
          form.submit();
        });
      });
    });
  });
})();

// The field page (/follow-up/field/): the case manager's visits and surveys to make, recorded
// with or without a connection.
//
// - The list comes from the API (GET /api/v1/follow-up/field); the service worker
//   (field-sw.js) keeps the page, its files and the list, so the page opens offline.
// - An answer is kept in this browser (IndexedDB "hub-field", store "answers") with a key of
//   its own (a UUID), and sent through the API with that key as client_key: on load, when the
//   connection returns, and by "Send now". The key makes a retried upload harmless (the
//   server answers the record it made), so each answer is recorded once. A sent answer is
//   deleted here.
// - The server refusing an answer (the case closed, the milestone closed or moved meanwhile,
//   a field refused) leaves it here with the server's reason; the user retries, edits or
//   discards it.
// - Sent with the browser's session: the session cookie and the CSRF token of the page, taken
//   fresh from the page before sending (the copy kept offline may carry an old one).
// Every text shown comes from the page's data-s-* attributes (translated by the server).
(() => {
  "use strict";

  const root = document.getElementById("field");
  if (!root) {
    return;
  }
  const d = root.dataset;
  const text = (name) => d["s" + name.split("-").map((p) => p[0].toUpperCase() + p.slice(1)).join("")] || "";
  const part = (name) => root.querySelector(`[data-field="${name}"]`);
  const forms = {
    visit: root.querySelector('form[data-form="visit"]'),
    survey: root.querySelector('form[data-form="survey"]'),
  };
  const SIGNED_OUT = "signed-out";

  // --- the answers kept in this browser ---------------------------------------------------

  function openStore() {
    return new Promise((resolve, reject) => {
      const request = indexedDB.open("hub-field", 1);
      request.onupgradeneeded = () => request.result.createObjectStore("answers", { keyPath: "key" });
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
  }

  async function inStore(mode, work) {
    const db = await openStore();
    try {
      return await new Promise((resolve, reject) => {
        const transaction = db.transaction("answers", mode);
        const request = work(transaction.objectStore("answers"));
        transaction.oncomplete = () => resolve(request.result);
        transaction.onerror = () => reject(transaction.error);
        transaction.onabort = () => reject(transaction.error);
      });
    } finally {
      db.close(); // never left open: signing out deletes the database
    }
  }

  const keptAnswers = async () => ((await inStore("readonly", (s) => s.getAll())) || []).filter((a) => a.user === d.user);
  const keepAnswer = (answer) => inStore("readwrite", (s) => s.put(answer));
  const dropAnswer = (key) => inStore("readwrite", (s) => s.delete(key));

  function newKey() {
    if (crypto.randomUUID) {
      return crypto.randomUUID();
    }
    return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0")).join("");
  }

  function today() {
    const now = new Date();
    return new Date(now.getTime() - now.getTimezoneOffset() * 60000).toISOString().slice(0, 10);
  }

  function dayBefore(day) {
    const [y, m, dd] = day.split("-").map(Number);
    const date = new Date(Date.UTC(y, m - 1, dd - 1));
    return date.toISOString().slice(0, 10);
  }

  // The days a record of ``item`` may carry and still close its milestone: from its window's
  // opening (not before the arrival) to the day before the next one's, not after the case's
  // window, not in the future (the server's rules, so that a refusal is rare).
  function span(item) {
    const first = [item.case.arrived_on, item.opens_on].filter(Boolean).sort().pop() || "";
    const last = [today(), item.window_ends_on, item.closes_before && dayBefore(item.closes_before)]
      .filter(Boolean).sort()[0];
    return { first, last };
  }

  // "Days that count for it: 3 Nov 2026 – 7 Dec 2026", or "... until 7 Dec 2026" when the
  // window has no known start (the returnee's arrival not recorded yet)
  function spanText({ first, last }) {
    const shown = { first: showDate(first), last: showDate(last) };
    return text(first ? "counts" : "counts-until").replace(/\{(first|last)\}/g, (_, name) => shown[name]);
  }

  function showDate(day) {
    if (!day) {
      return "";
    }
    const [y, m, dd] = day.split("-").map(Number);
    return new Date(y, m - 1, dd).toLocaleDateString(document.documentElement.lang || undefined, { dateStyle: "medium" });
  }

  // --- what is shown ------------------------------------------------------------------------

  let items = [];
  let listKnown = false;
  let answers = [];

  function element(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      node.setAttribute(name, value);
    }
    for (const child of children) {
      if (child !== null && child !== undefined) {
        node.append(child);
      }
    }
    return node;
  }

  function say(message) {
    part("message").textContent = message;
  }

  function showConnection() {
    part("connection").textContent = navigator.onLine ? text("online") : text("offline");
  }

  function renderList() {
    const list = part("list");
    list.replaceChildren();
    if (!listKnown) {
      list.append(element("li", { class: "list-group-item text-muted" }, text("no-list")));
      return;
    }
    if (!items.length) {
      list.append(element("li", { class: "list-group-item text-muted" }, text("empty")));
    }
    const keptFor = new Set(answers.map((a) => a.item.milestone_id));
    for (const item of items) {
      const kind = item.kind === "monitoring_visit" ? "visit" : "survey";
      const overdue = item.status === "overdue";
      const place = [item.case.town, item.case.region].filter(Boolean).join(", ");
      const row = element(
        "li",
        { class: "list-group-item", "data-testid": "field-item", "data-milestone": String(item.milestone_id) },
        element("div", { class: "fw-semibold" }, item.case.case_number, place ? ` · ${place}` : ""),
        element(
          "div",
          { class: "small" },
          `${item.name} · ${text("due")} ${showDate(item.due_on)} `,
          overdue ? element("span", { class: "badge text-bg-danger" }, text("overdue")) : null,
        ),
        element("div", { class: "small text-muted" }, spanText(span(item))),
      );
      if (keptFor.has(item.milestone_id)) {
        row.append(element("div", { class: "small text-success mt-1", "data-testid": "kept-here" }, text("kept-here")));
      } else if (forms[kind]) {
        const button = element("button", { type: "button", class: "btn btn-outline-primary btn-sm mt-2", "data-testid": `record-${kind}` }, text(kind));
        button.addEventListener("click", () => openForm(kind, item, null));
        row.append(button);
      }
      list.append(row);
    }
  }

  function renderQueue() {
    const queue = part("queue");
    queue.replaceChildren();
    part("count").textContent = String(answers.length);
    for (const answer of answers) {
      const refused = answer.state === "refused";
      const row = element(
        "li",
        { class: `list-group-item${refused ? " list-group-item-warning" : ""}`, "data-testid": "queued-answer", "data-state": answer.state },
        element("div", { class: "fw-semibold" }, `${answer.item.case.case_number} · ${answer.item.name} · ${showDate(answer.day)}`),
      );
      if (refused) {
        row.append(element("div", { class: "small", "data-testid": "conflict" }, `${text("not-recorded")} ${answer.message || ""}`));
        for (const problem of answer.problems || []) {
          row.append(element("div", { class: "small text-danger" }, problem));
        }
      } else {
        row.append(element("div", { class: "small text-muted" }, text("waiting")));
      }
      const actions = element("div", { class: "d-flex flex-wrap gap-2 mt-2" });
      const act = (name, run) => {
        const button = element("button", { type: "button", class: "btn btn-outline-secondary btn-sm", "data-action": name }, text(name));
        button.addEventListener("click", run);
        actions.append(button);
      };
      if (refused) {
        act("retry", () => retry(answer));
      }
      if (forms[answer.kind]) {
        act("edit", () => openForm(answer.kind, answer.item, answer));
      }
      act("discard", () => discard(answer));
      row.append(actions);
      queue.append(row);
    }
  }

  async function refresh() {
    answers = await keptAnswers();
    answers.sort((a, b) => a.savedAt.localeCompare(b.savedAt));
    renderQueue();
    renderList();
  }

  async function loadList() {
    try {
      const response = await fetch(d.list, { credentials: "same-origin", headers: { Accept: "application/json" } });
      if (response.ok && !response.redirected && (response.headers.get("Content-Type") || "").includes("json")) {
        items = await response.json();
        listKnown = true;
      } else if (response.status === 401 || response.redirected) {
        say(text("sign-in"));
      }
    } catch (error) {
      // offline, and the list was never kept on this device
    }
  }

  // --- the forms ----------------------------------------------------------------------------

  const fieldName = (input) => input.name.replace(/^(visit|survey)-/, "");

  function problemAt(input, problem) {
    input.classList.toggle("is-invalid", Boolean(problem));
    let feedback = input.parentElement.querySelector("[data-field-error]");
    if (!feedback) {
      feedback = element("div", { class: "invalid-feedback", "data-field-error": "" });
      input.after(feedback);
    }
    feedback.textContent = problem;
  }

  function checked(form, item) {
    let ok = true;
    for (const input of form.querySelectorAll("input, select, textarea")) {
      if (input.type === "hidden" || input.type === "checkbox") {
        continue;
      }
      const value = input.value.trim();
      let problem = "";
      if (input.type === "date") {
        if (!value) {
          problem = text("required");
        } else if (value > today()) {
          problem = text("future");
        } else if (item.case.arrived_on && value < item.case.arrived_on) {
          problem = text("before-arrival");
        } else if (item.window_ends_on && value > item.window_ends_on) {
          problem = text("after-window");
        } else if (value < span(item).first || value > span(item).last) {
          problem = text("outside");
        }
      } else if (input.type === "number") {
        problem = /^[0-4]$/.test(value) ? "" : value ? text("score") : text("required");
      } else if (input.tagName === "SELECT") {
        problem = value ? "" : text("required");
      } else if (input.maxLength > 0 && input.value.length > input.maxLength) {
        problem = text("too-long");
      }
      problemAt(input, problem);
      ok = ok && !problem;
    }
    return ok;
  }

  function body(kind, form) {
    const values = { for_milestone_id: Number(form.dataset.milestone) };
    const scores = {};
    for (const input of form.querySelectorAll("input, select, textarea")) {
      const name = fieldName(input);
      if (!name || input.type === "hidden") {
        continue;
      }
      if (name.startsWith("answer_")) {
        scores[name.slice("answer_".length)] = Number(input.value.trim());
      } else if (input.type === "checkbox") {
        values[name] = input.checked;
      } else {
        values[name] = input.value;
      }
    }
    if (kind === "survey") {
      values.answers = scores;
    }
    return values;
  }

  let editing = null; // { item, answer }

  function closeForms() {
    for (const form of Object.values(forms)) {
      if (form) {
        form.classList.add("d-none");
      }
    }
    editing = null;
  }

  function openForm(kind, item, answer) {
    const form = forms[kind];
    closeForms();
    form.reset();
    editing = { item, answer };
    form.dataset.milestone = String(item.milestone_id);
    part("message").textContent = "";
    form.querySelector('[data-field="case"]').textContent = `${item.case.case_number} · ${item.name}`;
    for (const input of form.querySelectorAll("input, select, textarea")) {
      problemAt(input, "");
      const name = fieldName(input);
      if (input.type === "date") {
        const { first, last } = span(item);
        input.min = first;
        input.max = last;
        input.value = answer ? answer.day : last;
      } else if (answer && name.startsWith("answer_")) {
        input.value = String(answer.body.answers[name.slice("answer_".length)] ?? "");
      } else if (answer && input.type === "checkbox") {
        input.checked = Boolean(answer.body[name]);
      } else if (answer && name in answer.body) {
        input.value = answer.body[name];
      }
    }
    form.classList.remove("d-none");
    form.scrollIntoView({ block: "start" });
    form.querySelector('input[type="date"]').focus();
  }

  async function keepForm(kind) {
    const form = forms[kind];
    const { item, answer } = editing;
    if (!checked(form, item)) {
      return;
    }
    const values = body(kind, form);
    const kept = answer || { key: newKey(), user: d.user, kind, savedAt: new Date().toISOString() };
    values.client_key = kept.key; // an edited answer keeps its key: nothing was recorded with it
    Object.assign(kept, {
      item,
      caseId: item.case.id,
      day: kind === "visit" ? values.visited_on : values.taken_on,
      body: values,
      state: "waiting",
      message: "",
      problems: [],
    });
    await keepAnswer(kept);
    closeForms();
    say(text("saved"));
    await refresh();
    if (navigator.onLine) {
      await send();
    }
  }

  for (const [kind, form] of Object.entries(forms)) {
    if (!form) {
      continue;
    }
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      keepForm(kind);
    });
    form.querySelector('[data-action="cancel"]').addEventListener("click", closeForms);
  }

  async function retry(answer) {
    answer.state = "waiting";
    answer.message = "";
    answer.problems = [];
    await keepAnswer(answer);
    await refresh();
    await send();
  }

  async function discard(answer) {
    if (!window.confirm(text("discard-confirm"))) {
      return;
    }
    await dropAnswer(answer.key);
    await refresh();
  }

  // --- sending ------------------------------------------------------------------------------

  // A fresh CSRF token from the page itself (through the service worker: the network when
  // there is one); SIGNED_OUT when the session ended or another user signed in meanwhile.
  async function freshToken() {
    try {
      const response = await fetch(d.scope, { credentials: "same-origin", cache: "no-store" });
      const page = new DOMParser().parseFromString(await response.text(), "text/html");
      const fresh = page.getElementById("field");
      if (!fresh || fresh.dataset.user !== d.user) {
        return SIGNED_OUT;
      }
      return fresh.dataset.csrf;
    } catch (error) {
      return null;
    }
  }

  function post(answer, token) {
    const address = answer.kind === "visit" ? d.visits : d.surveys;
    return fetch(address.replace("/0/", `/${answer.caseId}/`), {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": token },
      body: JSON.stringify(answer.body),
    });
  }

  function problemsOf(errors) {
    const found = [];
    const walk = (value) => {
      if (typeof value === "string") {
        found.push(value);
      } else if (Array.isArray(value)) {
        value.forEach(walk);
      } else if (value && typeof value === "object") {
        Object.values(value).forEach(walk);
      }
    };
    walk(errors);
    return found;
  }

  async function sendWaiting() {
    const waiting = (await keptAnswers()).filter((a) => a.state === "waiting");
    if (!waiting.length) {
      return;
    }
    say(text("sending"));
    const token = await freshToken();
    if (token === SIGNED_OUT) {
      say(text("sign-in"));
      return;
    }
    let sent = 0;
    let stopped = "";
    for (const answer of waiting) {
      let response;
      try {
        response = await post(answer, token || d.csrf);
      } catch (error) {
        stopped = text("unreachable");
        break;
      }
      if (response.status === 200 || response.status === 201) {
        await dropAnswer(answer.key); // recorded now, or before with this key
        sent += 1;
      } else if (response.status === 401) {
        stopped = text("sign-in");
        break;
      } else if (response.status >= 400 && response.status < 500 && response.status !== 429) {
        const refusal = await response.json().catch(() => ({}));
        answer.state = "refused";
        answer.message = refusal.message || "";
        answer.problems = problemsOf(refusal.errors).filter((p) => p !== answer.message);
        await keepAnswer(answer);
      } else {
        stopped = text("unreachable"); // the server is not well: the answers wait
        break;
      }
    }
    say(stopped || (sent ? `${text("sent")} ${sent}` : ""));
    if (sent) {
      await loadList();
    }
  }

  let sending = null;

  // One sending at a time in this page, and in all of this browser's pages where it can say so.
  function send() {
    if (!sending) {
      const run = () => sendWaiting();
      sending = (navigator.locks ? navigator.locks.request("hub-field-send", run) : run())
        .catch(() => say(text("unreachable")))
        .then(refresh)
        .finally(() => {
          sending = null;
        });
    }
    return sending;
  }

  root.querySelector('[data-action="send"]').addEventListener("click", () => send());
  window.addEventListener("online", () => {
    showConnection();
    send();
  });
  window.addEventListener("offline", showConnection);

  // --- the service worker -------------------------------------------------------------------

  async function keepForOffline() {
    if (!("serviceWorker" in navigator)) {
      part("ready").textContent = text("no-worker");
      return;
    }
    try {
      if (navigator.onLine) {
        await navigator.serviceWorker.register(d.worker, { scope: d.scope });
      }
      const registration = await navigator.serviceWorker.ready;
      const files = Array.from(
        document.querySelectorAll("link[rel=stylesheet][href], link[rel=icon][href], script[src]"),
        (node) => node.href || node.src,
      );
      const urls = [location.href.split("#")[0], new URL(d.list, location.href).href, ...files];
      await new Promise((resolve) => {
        const channel = new MessageChannel();
        channel.port1.onmessage = resolve;
        registration.active.postMessage({ type: "keep", urls }, [channel.port2]);
      });
      part("ready").textContent = text("ready");
    } catch (error) {
      part("ready").textContent = text("no-worker");
    }
  }

  showConnection();
  (async () => {
    await loadList();
    await refresh();
    if (navigator.onLine) {
      await send();
    }
    await keepForOffline();
  })();
})();

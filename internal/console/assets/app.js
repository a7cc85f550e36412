// StreamForge bulker console: vanilla JS, no dependencies. Every value from
// the server is put in the page as text (textContent), never as HTML: event
// bodies and error messages come from clients.
"use strict";

const POLL_MS = 2000;
const TOKEN_KEY = "streamforge.token";
// skew is the server's clock minus the browser's, in ms, from the Date
// header of each answer: times are shown relative to the server's clock.
const state = { view: "destinations", timer: null, prevRows: {}, destinations: [], skew: 0 };

const $ = (sel) => document.querySelector(sel);

// --- formatting -----------------------------------------------------------

function ago(iso) {
  if (!iso) return "never";
  const s = Math.max(0, Math.round((Date.now() + state.skew - new Date(iso).getTime()) / 1000));
  if (s < 60) return s + " s ago";
  if (s < 3600) return Math.floor(s / 60) + " min ago";
  if (s < 86400) return Math.floor(s / 3600) + " h ago";
  return Math.floor(s / 86400) + " d ago";
}

function num(n) {
  if (n === null || n === undefined) return "–";
  return Number(n).toLocaleString("en-US", { maximumFractionDigits: 1 });
}

function el(tag, text, cls, title) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (cls) e.className = cls;
  if (title) e.title = title;
  return e;
}

function badge(s) {
  const td = el("td");
  td.appendChild(el("span", s, "status s-" + String(s).replace(/[^a-z]/g, "")));
  return td;
}

function timeCell(iso) {
  return el("td", ago(iso), "time", iso ? new Date(iso).toISOString() : "");
}

function fill(tbody, rows, empty, cols) {
  tbody.replaceChildren();
  if (rows.length === 0) {
    const tr = el("tr");
    const td = el("td", empty, "note");
    td.colSpan = cols;
    tr.appendChild(td);
    tbody.appendChild(tr);
  }
  for (const r of rows) tbody.appendChild(r);
}

// --- API ------------------------------------------------------------------

class AuthError extends Error {}

async function api(path, opts = {}) {
  const headers = {};
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token) headers.Authorization = "Bearer " + token;
  const resp = await fetch(path, { ...opts, headers, cache: "no-store" });
  const date = Date.parse(resp.headers.get("Date") || "");
  if (!isNaN(date)) {
    const skew = date - Date.now();
    // The header has whole seconds: ignore what its rounding explains.
    state.skew = Math.abs(skew) > 2000 ? skew : 0;
  }
  if (resp.status === 401) throw new AuthError("token refused");
  const text = await resp.text();
  if (!resp.ok) {
    let msg = text;
    try { msg = JSON.parse(text).error || text; } catch (_) { /* not JSON */ }
    throw new Error(resp.status + ": " + msg);
  }
  return text;
}

const apiJSON = async (path, opts) => JSON.parse(await api(path, opts));

function setStatus(text, bad) {
  const s = $("#status");
  s.textContent = text;
  s.className = bad ? "error" : "";
}

function askToken(message) {
  stopPolling();
  $("#login-error").textContent = message || "";
  const d = $("#login");
  if (!d.open) d.showModal();
  $("#token").focus();
}

// --- views ----------------------------------------------------------------

async function loadDestinations() {
  const data = await apiJSON("/api/destinations");
  state.destinations = data.destinations;
  fillDestinationSelects();
  const now = Date.now();
  const rows = data.destinations.map((d) => {
    const prev = state.prevRows[d.id];
    let rate = null;
    if (prev && now > prev.at) rate = Math.max(0, (d.rowsLoaded - prev.rows) / ((now - prev.at) / 1000));
    state.prevRows[d.id] = { rows: d.rowsLoaded, at: now };
    const tr = el("tr");
    tr.dataset.id = d.id;
    tr.append(el("td", d.id), el("td", d.type), el("td", d.mode));
    const st = badge(d.state);
    st.className = "state-cell";
    tr.append(st, el("td", num(d.lag), "num"), el("td", num(d.rowsLoaded), "num"),
      el("td", rate === null ? "…" : num(rate), "num"), el("td", num(d.dead), "num"), timeCell(d.lastLoad));
    const err = el("td", d.lastError || "", "error");
    if (d.errorTime) err.prepend(el("span", ago(d.errorTime) + ": ", "note"));
    tr.append(err);
    tr.title = (d.tables || []).map((t) => t.name + ": lag " + num(t.lag) + ", rows " + num(t.rowsLoaded) + ", dead " + num(t.dead)).join("\n") +
      "\nload attempts failed by an outage (retried): " + num(d.outages);
    return tr;
  });
  fill($("#destinations-table tbody"), rows, "No destination configured.", 10);
}

function fillDestinationSelects() {
  for (const [sel, all] of [["#events-destination", true], ["#failed-destination", false]]) {
    const s = $(sel);
    const have = Array.from(s.options).map((o) => o.value).filter((v) => v !== "");
    const ids = state.destinations.map((d) => d.id);
    if (have.join() === ids.join()) continue;
    const keep = s.value;
    s.replaceChildren();
    if (all) s.appendChild(new Option("all", ""));
    for (const id of ids) s.appendChild(new Option(id, id));
    if (keep && ids.includes(keep)) s.value = keep;
  }
}

async function loadEvents() {
  if (state.destinations.length === 0) await loadDestinations();
  const q = new URLSearchParams({ limit: "100" });
  if ($("#events-destination").value) q.set("destination", $("#events-destination").value);
  if ($("#events-table-name").value.trim()) q.set("table", $("#events-table-name").value.trim());
  if ($("#events-status").value) q.set("status", $("#events-status").value);
  const data = await apiJSON("/events?" + q);
  const rows = (data.events || []).map((e) => {
    const tr = el("tr");
    tr.dataset.status = e.status;
    tr.append(timeCell(e.time), el("td", e.destination), el("td", e.table), badge(e.status),
      el("td", e.error || "", "error"), el("td", e.body ? JSON.stringify(e.body) : "", "body", e.body ? JSON.stringify(e.body, null, 2) : ""));
    return tr;
  });
  fill($("#events-table tbody"), rows, "No event matches.", 6);
}

async function loadFailed() {
  if (state.destinations.length === 0) await loadDestinations();
  const dest = $("#failed-destination").value;
  const tbody = $("#failed-table tbody");
  if (!dest) { fill(tbody, [], "No destination configured.", 7); return; }
  const q = new URLSearchParams({ status: $("#failed-status").value, limit: "100" });
  const table = $("#failed-table-name").value.trim();
  if (table) q.set("tableName", table);
  const text = await api("/failed/" + encodeURIComponent(dest) + "?" + q);
  const items = text.split("\n").filter((l) => l.trim() !== "").map((l) => JSON.parse(l));
  const rows = items.map((f) => {
    const tr = el("tr");
    tr.dataset.id = f.id || "";
    tr.append(timeCell(f.time), el("td", f.table), el("td", num(f.attempts), "num"), el("td", f.error, "error"),
      el("td", JSON.stringify(f.event), "body", JSON.stringify(f.event, null, 2)),
      f.replayed ? timeCell(f.replayed) : el("td", ""));
    const td = el("td");
    if (f.id) {
      const b = el("button", f.replayed ? "Replay again" : "Replay", "replay");
      b.type = "button";
      b.dataset.id = f.id;
      b.addEventListener("click", () => replay(dest, "ids=" + encodeURIComponent(f.id), f.replayed));
      td.appendChild(b);
    }
    tr.appendChild(td);
    return tr;
  });
  fill(tbody, rows, $("#failed-status").value === "dead" ? "No dead event. 🎉" : "Nothing waits for a retry.", 7);
}

async function replay(dest, query, force) {
  // A dead event already replayed is re-queued again only with force, which
  // skips the once-only marker: meant for a replay that never loaded (bulker
  // stopped in between), it loads the event twice otherwise.
  if (force) {
    if (!confirm("This event was replayed already. Re-queue it again anyway? If the earlier replay loaded, it loads twice.")) return;
    query += "&force=true";
  }
  try {
    const a = await apiJSON("/failed/" + encodeURIComponent(dest) + "/replay?" + query, { method: "POST" });
    const parts = [a.replayed.length + " re-queued"];
    if (a.alreadyReplayed && a.alreadyReplayed.length) parts.push(a.alreadyReplayed.length + " already replayed");
    if (a.notFound && a.notFound.length) parts.push(a.notFound.length + " not found");
    $("#replay-result").textContent = "Replay: " + parts.join(", ") + ".";
  } catch (e) {
    if (e instanceof AuthError) { askToken("The token was refused."); return; }
    $("#replay-result").textContent = "Replay failed: " + e.message;
  }
  refresh();
}

async function loadSources() {
  const data = await apiJSON("/api/sources");
  const rows = data.sources.map((s) => {
    const tr = el("tr");
    tr.append(el("td", s.id), el("td", s.topic), el("td", "→"), el("td", s.destination + "." + s.table),
      el("td", s.mode || "destination's"), el("td", s.group), el("td", num(s.lag), "num"), el("td", num(s.rowsLoaded), "num"));
    return tr;
  });
  fill($("#sources-table tbody"), rows, "No source configured.", 8);
}

async function loadQueues() {
  const data = await apiJSON("/api/queues");
  const info = $("#queues-info");
  info.className = data.error ? "error" : "note";
  if (data.hint) info.textContent = data.hint;
  else if (data.error) info.textContent = "Source " + data.source + " → " + data.destination + "." + data.table + ": " + data.error;
  else info.textContent = "From table " + data.destination + "." + data.table + ", filled by source " + data.source + " (dummy-service's queue-events).";
  const rows = data.queues.map((q) => {
    const tr = el("tr");
    tr.dataset.queue = q.queueId;
    tr.append(el("td", q.queueId), badge(q.lastStatus || "–"), el("td", num(q.recordsWritten), "num"), el("td", num(q.pongs), "num"),
      el("td", q.pingMsAvg == null ? "–" : num(q.pingMsAvg) + " ms", "num"), el("td", q.pingMsMax == null ? "–" : num(q.pingMsMax) + " ms", "num"),
      timeCell(q.lastPong), timeCell(q.lastEvent));
    return tr;
  });
  fill($("#queues-table tbody"), rows, data.hint ? "Not configured." : "No queue has reported yet.", 8);
}

const loaders = { destinations: loadDestinations, events: loadEvents, failed: loadFailed, sources: loadSources, queues: loadQueues };

async function refresh() {
  try {
    await loaders[state.view]();
    setStatus("updated " + new Date().toLocaleTimeString());
  } catch (e) {
    if (e instanceof AuthError) { askToken(sessionStorage.getItem(TOKEN_KEY) ? "The token was refused." : ""); return; }
    setStatus(e.message, true);
  }
}

function stopPolling() {
  clearInterval(state.timer);
  state.timer = null;
}

function startPolling() {
  stopPolling();
  refresh();
  state.timer = setInterval(() => {
    if (document.hidden) return;
    if (state.view === "events" && !$("#events-live").checked) return;
    refresh();
  }, POLL_MS);
}

function show(view) {
  if (!loaders[view]) view = "destinations";
  state.view = view;
  for (const v of document.querySelectorAll(".view")) v.classList.toggle("active", v.id === "view-" + view);
  for (const a of document.querySelectorAll("nav a")) a.classList.toggle("active", a.dataset.view === view);
  startPolling();
}

// --- start ----------------------------------------------------------------

$("#login-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  sessionStorage.setItem(TOKEN_KEY, $("#token").value.trim());
  $("#token").value = "";
  $("#login").close();
  show(state.view);
});
$("#logout").addEventListener("click", () => { sessionStorage.removeItem(TOKEN_KEY); askToken(""); });
window.addEventListener("hashchange", () => show(location.hash.slice(1)));
for (const id of ["#events-destination", "#events-status", "#failed-destination", "#failed-status"]) $(id).addEventListener("change", refresh);
for (const id of ["#events-table-name", "#failed-table-name"]) $(id).addEventListener("input", refresh);
for (const f of ["#events-filter", "#failed-filter"]) $(f).addEventListener("submit", (ev) => { ev.preventDefault(); refresh(); });
$("#replay-table").addEventListener("click", () => {
  const table = $("#failed-table-name").value.trim();
  if (!table) { $("#replay-result").textContent = "Name the table to replay (the table filter)."; return; }
  replay($("#failed-destination").value, "tableName=" + encodeURIComponent(table), false);
});

show(location.hash.slice(1) || "destinations");

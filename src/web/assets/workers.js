// The Workers view (admins): the fleet from /ui/api/workers, refreshed
// every few seconds. Text is always set as text, never as HTML.
"use strict";

(function () {
  const REFRESH_MS = 5000;

  function ago(iso) {
    const secs = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
    if (secs < 60) return secs + "s ago";
    if (secs < 3600) return Math.floor(secs / 60) + "m ago";
    if (secs < 86400) return Math.floor(secs / 3600) + "h ago";
    return Math.floor(secs / 86400) + "d ago";
  }

  function cell(row, text, className) {
    const td = document.createElement("td");
    td.textContent = text;
    if (className) td.className = className;
    row.appendChild(td);
    return td;
  }

  function render(workers) {
    const rows = document.getElementById("worker-rows");
    rows.replaceChildren();
    for (const w of workers) {
      const tr = document.createElement("tr");
      tr.dataset.worker = w.name;
      cell(tr, w.name, "worker-name");
      const state = cell(tr, "");
      const badge = document.createElement("span");
      badge.className = "badge worker-state state-" + w.state;
      badge.textContent = w.state;
      state.appendChild(badge);
      cell(tr, w.executor);
      cell(tr, String(w.slots));
      const running = cell(tr, String(w.running.length), "worker-running");
      running.title = w.running.join("\n");
      cell(tr, w.host);
      cell(tr, w.version);
      const seen = cell(tr, ago(w.last_seen));
      seen.title = w.last_seen;
      rows.appendChild(tr);
    }
    document.getElementById("workers-loading").hidden = true;
    document.getElementById("workers-table").hidden = workers.length === 0;
    document.getElementById("workers-empty").hidden = workers.length !== 0;
  }

  async function refresh() {
    const error = document.getElementById("workers-error");
    try {
      const resp = await fetch("/ui/api/workers", { credentials: "same-origin" });
      if (resp.status === 401) {
        window.location.assign("/login?expired=1");
        return;
      }
      const body = await resp.json();
      if (!resp.ok) throw new Error(body.error || "HTTP " + resp.status);
      render(body.workers);
      error.hidden = true;
      document.getElementById("workers-updated").textContent =
        "updated " + new Date().toLocaleTimeString();
    } catch (e) {
      document.getElementById("workers-loading").hidden = true;
      error.textContent = "Cannot load the workers: " + e.message;
      error.hidden = false;
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    refresh();
    setInterval(refresh, REFRESH_MS);
  });
})();

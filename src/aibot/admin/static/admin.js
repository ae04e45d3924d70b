// ai-bot admin console: the dashboard's live numbers and tables (polls /admin/api/stats); its
// charts are charts.js. No framework and no build step; the rest of the console is plain forms.
"use strict";

(function () {
  const POLL_MS = 5000;

  function sum(values) {
    return Object.values(values || {}).reduce((a, b) => a + b, 0);
  }

  function fixed(value) {
    return (value || 0).toFixed(3);
  }

  function setText(id, text) {
    const el = document.getElementById(id);
    if (el) el.textContent = text;
  }

  function rows(id, entries) {
    const body = document.getElementById(id);
    if (!body) return;
    body.replaceChildren(...entries.map((cells) => {
      const row = document.createElement("tr");
      cells.forEach((cell) => {
        const td = document.createElement("td");
        td.textContent = cell;
        row.appendChild(td);
      });
      return row;
    }));
  }

  function dashboard() {
    // /admin/api/stats names channels by code; the table names them in the page's language.
    const names = JSON.parse(document.getElementById("channel-names").textContent);

    function render(stats) {
      const total = sum(stats.messages_in);
      setText("stat-in", String(Math.round(total)));
      setText("stat-out", String(Math.round(stats.replies)));
      setText("stat-errors", String(Math.round(sum(stats.errors))));
      setText("stat-latency", `${fixed(stats.latency.p50)} / ${fixed(stats.latency.p99)}`);
      setText("stat-queue", `${stats.queue_depth} / ${stats.in_flight} / ${stats.outbox_pending}`);
      setText("stat-tokens", String(Math.round(sum(stats.tokens))));
      rows("by-channel", Object.entries(stats.messages_in).map(([n, c]) => [names[n] || n,
        Math.round(c)]));
      rows("by-provider", Object.entries(stats.provider_latency).map(([name, h]) => [
        name, Math.round(h.count), fixed(h.p50), fixed(h.p99),
        Math.round(stats.tokens[name] || 0), Math.round(stats.provider_errors[name] || 0)]));
    }

    async function poll() {
      let stats;
      try {
        const response = await fetch("/admin/api/stats", { credentials: "same-origin" });
        if (response.status === 401) {
          window.location.assign("/admin/login");
          return;
        }
        if (!response.ok) return;
        stats = await response.json();
      } catch (_err) {
        return; // gateway restarting: try again at the next tick
      }
      render(stats);
      document.body.dataset.polled = String(Number(document.body.dataset.polled || 0) + 1);
    }

    poll();
    setInterval(poll, POLL_MS);
  }

  document.addEventListener("DOMContentLoaded", () => {
    if (document.body.dataset.page === "dashboard") dashboard();
  });
})();

// ai-bot admin console: live dashboard numbers, tables and charts (polls /admin/api/stats).
// No framework and no build step; everything else in the console is plain HTML forms.
"use strict";

(function () {
  const POLL_MS = 5000;
  const POINTS = 60;
  const SVG = "http://www.w3.org/2000/svg";

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

  // Same estimate as Prometheus' histogram_quantile: linear inside the bucket.
  // `buckets` are cumulative [upper bound (null = +Inf), count] pairs.
  function quantile(buckets, q) {
    const total = buckets.length ? buckets[buckets.length - 1][1] : 0;
    if (total <= 0) return null;
    const rank = q * total;
    let lowerBound = 0;
    let lowerCount = 0;
    for (const [bound, count] of buckets) {
      if (count >= rank) {
        if (bound === null) return lowerBound;
        const span = count - lowerCount;
        return lowerBound + (bound - lowerBound) * (span ? (rank - lowerCount) / span : 1);
      }
      lowerBound = bound;
      lowerCount = count;
    }
    return lowerBound;
  }

  // The buckets of what happened since the previous poll.
  function delta(now, before) {
    if (!before || before.length !== now.length) return now;
    return now.map(([bound, count], i) => [bound, Math.max(0, count - before[i][1])]);
  }

  // Draws one polyline per series, scaled to the largest value shown; returns that value.
  function draw(svg, series) {
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    const top = Math.max(1e-9, ...series.flatMap((s) => s.values));
    const step = 300 / (POINTS - 1);
    series.forEach((s) => {
      if (s.values.length < 2) return;
      const start = POINTS - s.values.length;
      const points = s.values.map((v, i) =>
        `${((start + i) * step).toFixed(1)},${(98 - (v / top) * 94).toFixed(1)}`);
      const line = document.createElementNS(SVG, "polyline");
      line.setAttribute("points", points.join(" "));
      line.setAttribute("class", s.name);
      svg.appendChild(line);
    });
    return top;
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
    const messages = [];
    const p50 = [];
    const p99 = [];
    let lastTotal = null;
    let lastBuckets = null;

    function push(list, value) {
      list.push(value);
      if (list.length > POINTS) list.shift();
    }

    function render(stats) {
      const total = sum(stats.messages_in);
      setText("stat-in", String(Math.round(total)));
      setText("stat-out", String(Math.round(stats.replies)));
      setText("stat-errors", String(Math.round(sum(stats.errors))));
      setText("stat-latency", `${fixed(stats.latency.p50)} / ${fixed(stats.latency.p99)}`);
      setText("stat-queue", `${stats.queue_depth} / ${stats.in_flight} / ${stats.outbox_pending}`);
      setText("stat-tokens", String(Math.round(sum(stats.tokens))));
      rows("by-channel", Object.entries(stats.messages_in).map(([n, c]) => [n, Math.round(c)]));
      rows("by-provider", Object.entries(stats.provider_latency).map(([name, h]) => [
        name, Math.round(h.count), fixed(h.p50), fixed(h.p99),
        Math.round(stats.tokens[name] || 0), Math.round(stats.provider_errors[name] || 0)]));

      const recent = delta(stats.latency.buckets, lastBuckets);
      push(messages, lastTotal === null ? 0 : Math.max(0, total - lastTotal));
      push(p50, (lastBuckets && quantile(recent, 0.5)) || 0);
      push(p99, (lastBuckets && quantile(recent, 0.99)) || 0);
      lastTotal = total;
      lastBuckets = stats.latency.buckets;
      const most = draw(document.getElementById("chart-messages"),
                        [{ values: messages, name: "messages" }]);
      setText("chart-messages-max", String(Math.round(most)));
      const slowest = draw(document.getElementById("chart-latency"),
                           [{ values: p50, name: "p50" }, { values: p99, name: "p99" }]);
      setText("chart-latency-max", fixed(slowest));
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

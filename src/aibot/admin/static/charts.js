// ai-bot admin console: the dashboard's history charts, drawn with uPlot (uPlot.iife.min.js).
// The first data comes in the page (<script type="application/json" id="series-data">), so the
// charts are full on load; then /admin/api/series?range=… every minute. Each figure says what
// it shows in data- attributes the page translated: data-unit (the y axis), data-kind (count,
// seconds or share). After drawing, a figure's data-points is how many non-empty values it shows.
"use strict";

(function () {
  const REFRESH_MS = 60000;
  const HEIGHT = 180;
  const PALETTE = ["#2563eb", "#d97706", "#059669", "#db2777", "#7c3aed", "#0891b2", "#65a30d",
    "#dc2626", "#4b5563", "#ca8a04"];
  const COUNT_STEPS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1e3, 2e3, 5e3, 1e4, 2e4, 5e4, 1e5, 2e5,
    5e5, 1e6, 2e6, 5e6, 1e7, 2e7, 5e7, 1e8];
  const charts = {};

  function css(name) {
    return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  }

  // The series JSON names channels by code; a legend names them in the page's language.
  function byChannel(values) {
    const names = JSON.parse(document.getElementById("channel-names")?.textContent || "{}");
    return Object.entries(values).map(([code, v]) => [names[code] || code, v]);
  }

  // [label, values] pairs for one figure from the series JSON.
  function lines(figure, data) {
    switch (figure.id) {
      case "chart-messages": return byChannel(data.messages);
      case "chart-errors": return byChannel(data.errors);
      case "chart-tokens": return Object.entries(data.tokens);
      case "chart-latency": return [[figure.dataset.p50, data.latency.p50],
        [figure.dataset.p99, data.latency.p99]];
      case "chart-thumbs": return Object.entries(data.thumbs_up).map(([name, values]) => [
        name === "" ? figure.dataset.all : name === "-" ? figure.dataset.none : name,
        values.map((v) => (v === null ? null : Math.round(v * 1000) / 10))]);
      default: return [];
    }
  }

  function format(kind, value) {
    if (value === null || value === undefined) return "–";
    if (kind === "seconds") {
      return value < 1 ? `${Math.round(value * 1000)} ms` : `${value.toFixed(2)} s`;
    }
    if (kind === "share") return `${value} %`;
    return value >= 10000 ? `${(value / 1000).toFixed(1)} k` : String(Math.round(value));
  }

  // Bucket times in the reader's language and time zone: hours and minutes within a day, the
  // date as well over a week.
  function timeFormat(step, locale) {
    const parts = step >= 3600 ? { month: "numeric", day: "numeric", hour: "2-digit" }
      : { hour: "2-digit", minute: "2-digit" };
    const short = new Intl.DateTimeFormat(locale, { ...parts, hourCycle: "h23" });
    const full = new Intl.DateTimeFormat(locale, {
      month: "numeric", day: "numeric", hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
    return { tick: (t) => short.format(t * 1000), legend: (t) => full.format(t * 1000) };
  }

  function options(figure, series, data) {
    const kind = figure.dataset.kind;
    const locale = figure.closest("[data-locale]").dataset.locale;
    const time = timeFormat(data.step, locale);
    const muted = css("--muted") || "#666";
    const grid = { stroke: css("--line") || "#ddd", width: 1 };
    const least = { count: 1, seconds: 0.1, share: 100 }[kind];
    return {
      width: Math.max(260, figure.clientWidth),
      height: HEIGHT,
      legend: { live: true },
      cursor: { drag: { x: false, y: false } },
      scales: { y: { range: (_u, _min, max) => [0, kind === "share" ? 100 : Math.max(max, least)] } },
      axes: [
        { stroke: muted, grid, ticks: grid, space: 60,
          values: (_u, splits) => splits.map((t) => time.tick(t)) },
        { stroke: muted, grid, ticks: grid, label: figure.dataset.unit, labelSize: 18, size: 60,
          incrs: kind === "count" ? COUNT_STEPS : undefined,
          values: (_u, splits) => splits.map((v) => format(kind, v)) },
      ],
      series: [{ label: figure.closest("[data-time]").dataset.time,
        value: (_u, t) => (t === null ? "–" : time.legend(t)) }].concat(series.map(([label], i) => ({
        label,
        stroke: PALETTE[i % PALETTE.length],
        width: 2,
        spanGaps: false,
        // Counts are a line; a latency or a share exists only where something was measured,
        // often one bucket alone, so each of those is a dot too.
        points: { show: kind !== "count", size: 6, fill: PALETTE[i % PALETTE.length] },
        value: (_u, v) => format(kind, v),
      }))),
    };
  }

  function draw(data) {
    document.querySelectorAll(".charts figure").forEach((figure) => {
      const series = lines(figure, data);
      const values = [data.times].concat(series.map(([, v]) => v));
      const old = charts[figure.id];
      if (old) old.destroy();
      charts[figure.id] = new uPlot(options(figure, series, data), values, figure);
      const shown = series.reduce((n, [, v]) => n + v.filter((x) => x !== null && x !== 0).length, 0);
      figure.dataset.points = String(shown);
    });
  }

  async function refresh(range) {
    let data;
    try {
      const response = await fetch(`/admin/api/series?range=${encodeURIComponent(range)}`,
        { credentials: "same-origin" });
      if (response.status === 401) {
        window.location.assign("/admin/login");
        return;
      }
      if (!response.ok) return;
      data = await response.json();
    } catch (_err) {
      return; // gateway restarting: the next minute
    }
    draw(data);
    document.body.dataset.refreshed = String(Number(document.body.dataset.refreshed || 0) + 1);
  }

  document.addEventListener("DOMContentLoaded", () => {
    const embedded = document.getElementById("series-data");
    if (!embedded || typeof uPlot === "undefined") return;
    const data = JSON.parse(embedded.textContent);
    draw(data);
    document.body.dataset.charted = data.window;
    setInterval(() => refresh(data.window), REFRESH_MS);
    let resizing = null;
    window.addEventListener("resize", () => {
      clearTimeout(resizing);
      resizing = setTimeout(() => Object.entries(charts).forEach(([id, chart]) => {
        chart.setSize({ width: Math.max(260, document.getElementById(id).clientWidth), height: HEIGHT });
      }), 150);
    });
  });
})();

// web/src/views/metrics.js - #/metrics: the farm's counters over time, from
// /api/metrics/series (the master samples what /metrics prints every interval_s) and then
// each `metrics` event. Rates come from consecutive samples. On a master without the
// series, the current /metrics counters as a table.
import { getOptional, getText } from "../api.js";
import { chart } from "../charts.js";
import { bytes, h, num, pct, fill } from "../format.js";
import { markLoaded } from "../ui.js";

const FIELDS = ["units_done", "units_failed", "cache_hits", "bytes_in", "bytes_out", "bytes_stored",
  "queue_depth", "lease_expiries", "retries", "agents"];

/* Samples kept: the master's hour at 1 s, at most (it sends one per interval_s). */
const MAX_SAMPLES = 3600;

/* Per-second rate of a cumulative counter between samples i-1 and i; null at a restart. */
function rate(s, key, i) {
  if (i === 0) return null;
  const dt = s.t[i] - s.t[i - 1];
  const dv = s[key][i] - s[key][i - 1];
  return dt > 0 && dv >= 0 ? dv / dt : null;
}

function delta(s, key, i) {
  if (i === 0) return null;
  const dv = s[key][i] - s[key][i - 1];
  return dv >= 0 ? dv : null;
}

/* Hits among the units completed in the interval. */
function hitRate(s, i) {
  const done = delta(s, "units_done", i);
  const hits = delta(s, "cache_hits", i);
  return done && hits !== null ? hits / done : null;
}

const CHARTS = [
  { title: "Units per second", series: [{ label: "done", value: (v) => num(v, 1), f: (s, i) => rate(s, "units_done", i) },
    { label: "failed", value: (v) => num(v, 1), f: (s, i) => rate(s, "units_failed", i) }] },
  { title: "Cache hit rate", range: [0, 1], series: [{ label: "hits", value: (v) => pct(v), f: hitRate }] },
  { title: "Bytes moved per second", series: [{ label: "in", value: (v) => `${bytes(v)}/s`, f: (s, i) => rate(s, "bytes_in", i) },
    { label: "out", value: (v) => `${bytes(v)}/s`, f: (s, i) => rate(s, "bytes_out", i) }] },
  { title: "Bytes stored", series: [{ label: "store", value: (v) => bytes(v), f: (s, i) => s.bytes_stored[i] }] },
  { title: "Queue depth", series: [{ label: "units queued", value: (v) => num(v), f: (s, i) => s.queue_depth[i] },
    { label: "agents", value: (v) => num(v), f: (s, i) => s.agents[i] }] },
  { title: "Lease expiries and retries per interval", series: [
    { label: "lease expiries", value: (v) => num(v), f: (s, i) => delta(s, "lease_expiries", i) },
    { label: "retries", value: (v) => num(v), f: (s, i) => delta(s, "retries", i) }] },
];

function metricValue(v) {
  return num(v, Number.isInteger(v) ? 0 : 2);
}

async function counterTable(root) {
  const text = await getText("/metrics");
  const rows = text.split("\n").filter((l) => l && !l.startsWith("#")).map((l) => {
    const at = l.lastIndexOf(" ");
    return h("tr", {}, h("td", {}, h("code", { text: l.slice(0, at) })), h("td.num", { text: metricValue(Number(l.slice(at + 1))) }));
  });
  root.append(h("table.counters", {}, h("tbody", {}, rows)));
}

export function mount(root) {
  let alive = true;
  let charts = [];
  let series = null;
  const now = h("p.summary");
  const box = h("div.charts.metrics");
  root.append(h("h1", { text: "Metrics" }), now, box);

  function summarize() {
    const i = series.t.length - 1;
    if (i < 0) return;
    fill(now, `${num(series.units_done[i])} units done, ${num(series.units_failed[i])} failed, `,
      `${num(series.cache_hits[i])} from the cache, ${num(series.queue_depth[i])} queued, `,
      `${bytes(series.bytes_stored[i])} stored, ${num(series.agents[i])} agents`,
      ` (sampled every ${num(series.interval_s)} s)`);
  }

  (async () => {
    let s;
    try {
      s = await getOptional("/api/metrics/series");
    } catch (e) {
      now.textContent = `Could not read /api/metrics/series: ${e.message}`;
      return;
    }
    if (!alive) return;
    if (!s) {
      now.textContent = "This master has no /api/metrics/series: its counters now, from /metrics.";
      await counterTable(box).catch((e) => box.append(h("p.error", { text: e.message })));
      markLoaded(root);
      return;
    }
    series = s;
    for (const k of FIELDS) series[k] = series[k] || [];
    charts = CHARTS.map((c) => chart(box, c.title, c.series,
      [series.t.slice(), ...c.series.map((sr) => series.t.map((_, i) => sr.f(series, i)))], { yRange: c.range }));
    summarize();
    markLoaded(root);
  })();

  return {
    unmount() {
      alive = false;
      for (const c of charts) c.destroy();
    },
    onEvent(type, d) {
      if (type !== "metrics" || !series || !d || d.t === undefined) return;
      series.t.push(d.t);
      for (const k of FIELDS) series[k].push(d[k] ?? null);
      if (series.t.length > MAX_SAMPLES) for (const k of ["t", ...FIELDS]) series[k].shift();
      const i = series.t.length - 1;
      CHARTS.forEach((c, n) => charts[n].push(d.t, c.series.map((sr) => sr.f(series, i))));
      summarize();
    },
  };
}

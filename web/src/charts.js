// web/src/charts.js - time-series charts on uPlot, coloured from the theme's CSS variables,
// sized to their box (and resized with it), with a cap on the points kept.
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";

/* Points kept per chart: an hour at 1 s or 30 min of 2 s heartbeats fits. */
const MAX_POINTS = 3600;
const PALETTE = ["--c1", "--c2", "--c3", "--c4", "--c5", "--c6"];

function cssVar(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

/* series: [{label, value: (v) => text}]; data: [[t...], [y...], ...]. */
export function chart(parent, title, series, data, { yRange } = {}) {
  const box = document.createElement("div");
  box.className = "chart";
  parent.append(box);
  const axis = { stroke: cssVar("--fg"), grid: { stroke: cssVar("--grid") },
    ticks: { stroke: cssVar("--grid") } };
  const opts = {
    title,
    width: Math.max(box.clientWidth, 240),
    height: 180,
    cursor: { drag: { x: false, y: false } },
    scales: { x: { time: true }, y: yRange ? { range: yRange } : { auto: true } },
    axes: [axis, { ...axis, size: 60, values: (u, ticks) => ticks.map((v) => series[0].value(v)) }],
    series: [{}, ...series.map((s, i) => ({ label: s.label, stroke: cssVar(PALETTE[i % PALETTE.length]),
      width: 2, value: (u, v) => (v === null || v === undefined ? "–" : s.value(v)), spanGaps: false }))],
  };
  const plot = new uPlot(opts, data, box);
  const ro = new ResizeObserver(() => plot.setSize({ width: Math.max(box.clientWidth, 240), height: 180 }));
  ro.observe(box);
  return {
    plot,
    data,
    /* Append one sample: t (unix seconds) and one value per series. */
    push(t, values) {
      this.data[0].push(t);
      values.forEach((v, i) => this.data[i + 1].push(v));
      if (this.data[0].length > MAX_POINTS) for (const col of this.data) col.splice(0, col.length - MAX_POINTS);
      plot.setData(this.data);
    },
    destroy() {
      ro.disconnect();
      plot.destroy();
    },
  };
}

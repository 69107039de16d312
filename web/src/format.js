// web/src/format.js - numbers, sizes, durations and times as the page shows them, and a
// small element builder. Nothing here invents a value: a missing number shows as "–".

export const NONE = "–";

export function num(v, digits = 0) {
  if (v === null || v === undefined || Number.isNaN(v)) return NONE;
  return Number(v).toLocaleString("en-US", { maximumFractionDigits: digits,
    minimumFractionDigits: digits });
}

export function pct(fraction, digits = 0) {
  if (fraction === null || fraction === undefined || Number.isNaN(fraction)) return NONE;
  return `${num(fraction * 100, digits)} %`;
}

export function gb(v) {
  return v === null || v === undefined ? NONE : `${num(v, 1)} GB`;
}

const UNITS = ["B", "KB", "MB", "GB", "TB", "PB"];
export function bytes(n) {
  if (n === null || n === undefined || Number.isNaN(n)) return NONE;
  let i = 0;
  let v = Number(n);
  while (Math.abs(v) >= 1000 && i < UNITS.length - 1) {
    v /= 1000;
    i++;
  }
  return `${num(v, i === 0 ? 0 : 1)} ${UNITS[i]}`;
}

export function duration(ms) {
  if (ms === null || ms === undefined || Number.isNaN(ms) || ms < 0) return NONE;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${num(s, 1)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${Math.round(s - m * 60)} s`;
  const h = Math.floor(m / 60);
  return `${h} h ${m - h * 60} min`;
}

export function time(ms) {
  if (!ms) return NONE;
  return new Date(ms).toLocaleString("en-GB", { hour12: false });
}

/* h("div.card", {dataset: {...}, onclick}, children...): an element. */
export function h(tag, props, ...children) {
  const [name, ...classes] = tag.split(".");
  const el = document.createElement(name);
  if (classes.length) el.className = classes.join(" ");
  for (const [k, v] of Object.entries(props || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "dataset") Object.assign(el.dataset, v);
    else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "text") el.textContent = v;
    else if (k in el && k !== "list" && k !== "type") el[k] = v;
    else el.setAttribute(k, v);
  }
  return append(el, children);
}

function append(el, children) {
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/* Replace el's children, skipping null/false as h() does (replaceChildren writes "null"). */
export function fill(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

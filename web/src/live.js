// web/src/live.js - live updates: one EventSource on the farm-wide /api/events, handing
// each event (agent, job, unit, metrics) to whoever listens. When this master has no
// /api/events (the stream is refused, not merely interrupted), views fall back to the
// per-job streams /api/jobs/{id}/events through jobStream(). Nothing here polls.
import { needsReadToken, token } from "./api.js";

const listeners = new Set();
const statusListeners = new Set();
let source = null;
let status = "connecting"; // connecting | live | reconnecting | unavailable

export function liveStatus() {
  return status;
}

function setStatus(s) {
  status = s;
  for (const fn of statusListeners) fn(s);
}

export function onStatus(fn) {
  statusListeners.add(fn);
  fn(status);
  return () => statusListeners.delete(fn);
}

/* fn(type, data) for every farm-wide event; returns the function that stops it. */
export function subscribe(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

function dispatch(type, ev) {
  let data;
  try {
    data = JSON.parse(ev.data);
  } catch {
    return; // not ours to guess at
  }
  for (const fn of listeners) fn(type, data);
}

function eventsUrl() {
  // EventSource cannot send headers: with --auth-reads the master takes ?token= here only.
  const t = token();
  return needsReadToken() && t ? `/api/events?token=${encodeURIComponent(t)}` : "/api/events";
}

export function start() {
  if (source) source.close();
  setStatus("connecting");
  const es = new EventSource(eventsUrl());
  source = es;
  es.onopen = () => setStatus("live");
  es.onerror = () => {
    // CONNECTING: the browser reconnects by itself (sending Last-Event-ID). CLOSED: the
    // master refused the stream (404 on a master without it, 401 without a token).
    if (es.readyState === EventSource.CLOSED) {
      source = null;
      setStatus("unavailable");
    } else {
      setStatus("reconnecting");
    }
  };
  for (const type of ["agent", "job", "unit", "metrics"]) {
    es.addEventListener(type, (ev) => dispatch(type, ev));
  }
}

/* The per-job stream (the fallback): fn(type, data) with the master's per-job event names
 * (job_submitted, unit_started, unit_finished, unit_failed, unit_retry, job_finished). */
export function jobStream(id, fn) {
  const es = new EventSource(`/api/jobs/${id}/events`);
  const types = ["job_submitted", "unit_started", "unit_finished", "unit_failed", "unit_retry",
    "job_finished", "job_cancelled"];
  for (const type of types) {
    es.addEventListener(type, (ev) => {
      try {
        fn(type, JSON.parse(ev.data));
      } catch {
        /* skip an event we cannot read */
      }
      if (type === "job_finished" || type === "job_cancelled") es.close();
    });
  }
  es.onerror = () => {
    if (es.readyState === EventSource.CLOSED) fn("closed", null);
  };
  return () => es.close();
}

/* The per-job streams' state names, as grid letters (the /api/jobs/{id}/grid alphabet). */
const LETTER = { waiting: "w", queued: "q", running: "l", leased: "l", done: "d", failed: "f",
  cancelled: "x" };
export function stateLetter(state, cached) {
  if (state === "done" && cached) return "c";
  return LETTER[state] || null;
}

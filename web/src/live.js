// web/src/live.js - live updates: one EventSource on the farm-wide /api/events, handing
// each event (agent, job, unit, metrics) to whoever listens. When this master has no
// /api/events (the stream is refused, not merely interrupted), views fall back to the
// per-job streams /api/jobs/{id}/events through jobStream(). Nothing here polls.
import { needsReadToken, token } from "./api.js";

const listeners = new Set();
const statusListeners = new Set();
let source = null;
let status = "connecting"; // connecting, live, reconnecting, unavailable, needs token

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

/* The master numbers its events one by one and skips a stream that fell more than its
 * ring behind; a reconnect may also miss some. Either way the views re-read their data
 * (at most once per RESYNC_MS, so a burst of skips costs one re-read). */
const RESYNC_MS = 2000;
const resyncListeners = new Set();
let lastSeq = null;
let resyncTimer = 0;

export function onResync(fn) {
  resyncListeners.add(fn);
  return () => resyncListeners.delete(fn);
}

function resync() {
  if (resyncTimer) return;
  resyncTimer = setTimeout(() => {
    resyncTimer = 0;
    for (const fn of resyncListeners) fn();
  }, RESYNC_MS);
}

function dispatch(type, ev) {
  const seq = Number(ev.lastEventId);
  if (ev.lastEventId && lastSeq !== null && seq !== lastSeq + 1) resync();
  if (ev.lastEventId) lastSeq = seq;
  let data;
  try {
    data = JSON.parse(ev.data);
  } catch {
    return; // not ours to guess at
  }
  for (const fn of listeners) fn(type, data);
}

let tokenInUrl = false;

function eventsUrl() {
  // EventSource cannot send headers: with --auth-reads the master takes ?token= here only.
  const t = token();
  return (tokenInUrl || needsReadToken()) && t ? `/api/events?token=${encodeURIComponent(t)}` : "/api/events";
}

/* The stream was refused; EventSource does not say why, so ask once with a plain GET. A
 * 401 with a token kept: the master wants it for reads (--auth-reads), so try with it.
 * Otherwise (404 on a master without the route, 401 with no token yet): unavailable. */
async function refused() {
  let status = 0;
  const ctl = new AbortController();
  try {
    status = (await fetch("/api/events", { signal: ctl.signal })).status;
    ctl.abort();
  } catch {
    /* the master went away: unavailable */
  }
  if (status === 401 && token() && !tokenInUrl) {
    tokenInUrl = true;
    start();
  } else {
    setStatus(status === 401 ? "needs token" : "unavailable");
  }
}

export function start() {
  if (source) source.close();
  setStatus("connecting");
  const es = new EventSource(eventsUrl());
  source = es;
  es.onopen = () => {
    if (status === "reconnecting") resync();
    setStatus("live");
  };
  es.onerror = () => {
    // CONNECTING: the browser reconnects by itself (sending Last-Event-ID). CLOSED: the
    // master refused the stream (404 on a master without it, 401 without a token).
    if (es.readyState === EventSource.CLOSED) {
      source = null;
      refused();
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

// web/src/live.js - live updates: one EventSource on the farm-wide /api/events, handing
// each event (agent, job, metrics, and the open job page's unit events) to whoever
// listens. When this master has no /api/events (the stream is refused, not merely
// interrupted), views fall back to the per-job streams /api/jobs/{id}/events through
// jobStream(). Nothing here polls.
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

/* The master tells a stream that missed events (it fell more than its ring behind, or
 * resumed from an event the ring no longer holds) with a `resync` event; a reconnect may
 * also miss some. Either way the views re-read their data (at most once per RESYNC_MS, so
 * a burst costs one re-read). Gaps in the event ids mean nothing: a stream skips the
 * `unit` events of jobs it did not ask for. */
const RESYNC_MS = 2000;
const resyncListeners = new Set();
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

/* fn(type, data, seq): seq is the event's number, for a view that read a snapshot marked
 * with one (the grid's "seq") and applies only the events after it. */
function dispatch(type, ev) {
  let data;
  try {
    data = JSON.parse(ev.data);
  } catch {
    return; // not ours to guess at
  }
  const seq = ev.lastEventId ? Number(ev.lastEventId) : null;
  for (const fn of listeners) fn(type, data, seq);
}

/* The job whose `unit` events the stream carries (?units=), 0 for none: only a job page
 * wants them. A change reconnects the stream, once the route has settled. */
let unitsJob = 0;
let unitsOpen = 0;
export function followUnits(id) {
  unitsJob = id;
  queueMicrotask(() => {
    if (unitsJob !== unitsOpen && source) start();
  });
}

/* Resolves once the stream is open (or refused, or after WAIT_OPEN_MS): a snapshot read
 * after this misses no event the stream will not bring. */
const WAIT_OPEN_MS = 5000;
export function whenOpen() {
  return new Promise((resolve) => {
    let stop = null;
    const timer = setTimeout(() => finish(), WAIT_OPEN_MS);
    function finish() {
      clearTimeout(timer);
      if (stop) stop();
      resolve();
    }
    queueMicrotask(() => {
      stop = onStatus((s) => {
        if (s !== "connecting" && s !== "reconnecting" && (!source || unitsOpen === unitsJob)) finish();
      });
    });
  });
}

let tokenInUrl = false;

function eventsUrl() {
  // EventSource cannot send headers: with --auth-reads the master takes ?token= here only.
  const t = token();
  const q = new URLSearchParams();
  if (unitsJob) q.set("units", String(unitsJob));
  if ((tokenInUrl || needsReadToken()) && t) q.set("token", t);
  return q.size ? `/api/events?${q}` : "/api/events";
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
  unitsOpen = unitsJob;
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
  es.addEventListener("resync", () => resync());
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

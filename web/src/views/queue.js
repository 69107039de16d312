// web/src/views/queue.js - #/queue: jobs by priority and state, a page at a time, with
// progress, units by state, cache hits, retries, ETA and actions. `job` events update rows
// in place; without /api/events, the running jobs on the page follow their own streams.
import { getJSON } from "../api.js";
import { jobStream, liveStatus, onStatus } from "../live.js";
import { h, num, time, fill } from "../format.js";
import { markLoaded } from "../ui.js";
import { JOB_STATES, actionsCache, eta, progressBar, unitCounts } from "./jobparts.js";

const PAGE = 50;
/* Browsers open six connections per origin over HTTP/1.1: leave room for the page's reads. */
const MAX_JOB_STREAMS = 3;
const KINDS = ["EXEC", "NATIVE_EXEC", "RENDER", "ENCODE", "CUDA_KERNEL", "OPENCL_KERNEL"];

function sortJobs(jobs) {
  const rank = { running: 0, failed: 1, cancelled: 2, done: 3 };
  return jobs.sort((a, b) => (rank[a.state] ?? 9) - (rank[b.state] ?? 9) || b.priority - a.priority || b.id - a.id);
}

export function mount(root) {
  const q = new URLSearchParams(location.hash.split("?")[1] || "");
  let state = q.get("state") || "";
  let kind = q.get("kind") || "";
  let offset = Number(q.get("offset")) || 0;
  let alive = true;
  let total = 0;
  const rows = new Map(); // job id -> {tr, job}
  let streams = [];
  const actions = actionsCache(() => load());

  const stateSel = h("select", { id: "filter-state", onchange: () => { state = stateSel.value; offset = 0; load(); } },
    h("option", { value: "", text: "any state" }), JOB_STATES.map((s) => h("option", { value: s, text: s, selected: s === state })));
  const kindSel = h("select", { id: "filter-kind", onchange: () => { kind = kindSel.value; offset = 0; load(); } },
    h("option", { value: "", text: "any kind" }), KINDS.map((k) => h("option", { value: k, text: k, selected: k === kind })));
  const prev = h("button.small", { type: "button", text: "‹ newer", onclick: () => { offset = Math.max(0, offset - PAGE); load(); } });
  const next = h("button.small", { type: "button", text: "older ›", onclick: () => { offset += PAGE; load(); } });
  const pageInfo = h("span.muted");
  const body = h("tbody");
  const note = h("p.muted");
  root.append(h("h1", { text: "Queue" }),
    h("div.toolbar", {}, stateSel, kindSel, prev, pageInfo, next),
    h("table.jobs", {}, h("thead", {}, h("tr", {},
      ["job", "kind", "priority", "state", "progress", "units", "cache hits", "retries", "ETA", "submitted", ""].map((t) => h("th", { text: t })))), body),
    note);

  function row(j) {
    return h("tr", { dataset: { jobId: j.id, state: j.state } },
      h("td", {}, h("a", { href: `#/jobs/${j.id}`, text: `#${j.id}` })),
      h("td", { dataset: { k: "type" }, text: j.type }),
      h("td", { dataset: { k: "priority" }, text: num(j.priority) }),
      h("td", {}, h("span.state", { dataset: { state: j.state }, text: j.state })),
      h("td", {}, progressBar(j)),
      h("td", {}, unitCounts(j)),
      h("td", { dataset: { k: "cache_hits" }, text: num(j.cache_hits) }),
      h("td", { dataset: { k: "retries" }, text: num(j.retries) }),
      h("td", { dataset: { k: "eta" }, text: eta(j, Date.now()) }),
      h("td", { text: time(j.created_ms) }),
      h("td", {}, actions(j)));
  }

  function update(j) {
    const r = rows.get(j.id);
    if (!r) return false;
    const tr = row(j);
    r.tr.replaceWith(tr);
    rows.set(j.id, { tr, job: j });
    return true;
  }

  function follow() {
    for (const stop of streams) stop();
    streams = [];
    if (liveStatus() !== "unavailable") return;
    const running = [...rows.values()].filter((r) => r.job.state === "running").slice(0, MAX_JOB_STREAMS);
    for (const r of running) {
      streams.push(jobStream(r.job.id, (type, d) => {
        if (!d) return;
        const j = rows.get(r.job.id)?.job;
        if (!j) return;
        if (type.startsWith("job_")) getJSON(`/api/jobs/${j.id}?limit=0`).then((fresh) => alive && update(fresh));
        else if (d.done !== undefined) {
          // The per-job stream carries the done count; the other counts come with the next read.
          update({ ...j, units: { ...j.units, done: d.done }, progress: d.total ? d.done / d.total : j.progress });
        }
      }));
    }
    note.textContent = running.length ? `Without /api/events, the first ${running.length} running jobs here update live.` : "";
  }

  let loading = null;
  async function load() {
    // The master filters by state and kind (?type=) and pages: one page is read.
    const params = new URLSearchParams({ limit: String(PAGE), offset: String(offset) });
    if (state) params.set("state", state);
    if (kind) params.set("type", kind);
    history.replaceState(null, "", `#/queue?${new URLSearchParams({ ...(state && { state }), ...(kind && { kind }), ...(offset && { offset: String(offset) }) })}`);
    const mine = (loading = getJSON(`/api/jobs?${params}`));
    let d;
    try {
      d = await mine;
    } catch (e) {
      note.textContent = `Could not read /api/jobs: ${e.message}`;
      return;
    }
    if (!alive || mine !== loading) return;
    const page = d.jobs;
    total = d.total ?? d.jobs.length;
    note.textContent = "";
    const jobs = sortJobs(page);
    rows.clear();
    fill(body, ...jobs.map((j) => {
      const tr = row(j);
      rows.set(j.id, { tr, job: j });
      return tr;
    }));
    if (!jobs.length) body.append(h("tr", {}, h("td.muted", { colSpan: 11, text: "No job matches." })));
    pageInfo.textContent = `${num(Math.min(offset + 1, total))}–${num(Math.min(offset + page.length, total))} of ${num(total)}`;
    prev.disabled = offset === 0;
    next.disabled = offset + PAGE >= total;
    markLoaded(root);
    follow();
  }
  load();
  const stopStatus = onStatus((s) => { if (s === "unavailable" && rows.size) follow(); });

  let reloadTimer = 0;
  return {
    unmount() {
      alive = false;
      stopStatus();
      for (const stop of streams) stop();
      clearTimeout(reloadTimer);
    },
    onEvent(type, data) {
      if (type !== "job" || !data) return;
      if (update(data)) return;
      // A job this page does not show: re-read the first page when it is a new submission
      // that belongs on it (once per burst, not per event); progress of jobs on other
      // pages changes nothing here.
      const newest = Math.max(0, ...rows.keys());
      if (offset === 0 && data.id > newest && (!state || data.state === state) && (!kind || data.type === kind) && !reloadTimer) {
        reloadTimer = setTimeout(() => { reloadTimer = 0; load(); }, 250);
      }
    },
  };
}

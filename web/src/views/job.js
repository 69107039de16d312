// web/src/views/job.js - #/jobs/ID: the job's summary and actions, its units as a grid
// coloured by state (from /api/jobs/{id}/grid, or the unit list on a master without it),
// the detail of a clicked unit (agent, attempts, timings, stdout/stderr, why it waits),
// and for render jobs thumbnails of finished PNG frames and tiles as they arrive.
import { blobUrl, getBlob, getJSON, getOptional, getTextTail } from "../api.js";
import { followUnits, jobStream, liveStatus, onStatus, stateLetter, whenOpen } from "../live.js";
import { NONE, bytes, duration, h, num, time, fill } from "../format.js";
import { markLoaded } from "../ui.js";
import { LETTERS, unitGrid } from "./grid.js";
import { actionsCache, eta, progressBar, unitCounts } from "./jobparts.js";

/* Thumbnails kept on the page, newest first. */
const MAX_THUMBS = 48;
const MAX_UNIT_PAGE = 100000;
/* The most of a stdout or stderr shown: its end, where a failure's reason usually is. */
const MAX_LOG_SHOWN_BYTES = 1024 * 1024;

/* The grid's letters from the unit list, for a master without /api/jobs/{id}/grid. */
async function gridFromUnits(id, n) {
  const letters = new Array(n).fill(null);
  for (let offset = 0; offset < n; offset += MAX_UNIT_PAGE) {
    const page = await getJSON(`/api/jobs/${id}?offset=${offset}&limit=${MAX_UNIT_PAGE}`);
    for (const u of page.unit_list || []) letters[u.index] = stateLetter(u.state, u.cached);
  }
  return letters.map((l) => l || "?").join(""); // "?": not in the list, drawn blank
}

function isImage(path) {
  return /\.png$/i.test(path || "");
}

export function mount(root, params) {
  const id = Number(params[0]);
  let alive = true;
  let job = null;
  let grid = null;
  let stopStream = null;
  const head = h("div.job-head");
  const legend = h("div.legend");
  const gridBox = h("div.grid-box");
  const detail = h("aside.unit-detail", {}, h("p.muted", { text: "Click a unit for its detail." }));
  const thumbs = h("div.thumbs");
  const thumbSeen = new Set();
  const thumbUrls = new Map(); // figure -> its image's blob: URL, revoked when it goes
  const actions = actionsCache(() => reload());
  root.append(head, h("h2", { text: "Units" }), legend, h("div.job-body", {}, gridBox, detail), thumbs);

  function renderHead() {
    const j = job;
    fill(head,
      h("h1", {}, `Job #${j.id} `, h("span.kind", { text: j.type }), " ",
        h("span.state", { dataset: { state: j.state, k: "state" }, text: j.state })),
      h("div.job-line", {}, progressBar(j), actions(j)),
      h("div.job-line", {}, unitCounts(j)),
      h("dl.facts.wide", {},
        h("dt", { text: "priority" }), h("dd", { dataset: { k: "priority" }, text: num(j.priority) }),
        h("dt", { text: "cache hits" }), h("dd", { dataset: { k: "cache_hits" }, text: num(j.cache_hits) }),
        h("dt", { text: "retries" }), h("dd", { dataset: { k: "retries" }, text: num(j.retries) }),
        h("dt", { text: "ETA" }), h("dd", { dataset: { k: "eta" }, text: eta(j, Date.now()) }),
        h("dt", { text: "submitted" }), h("dd", { text: time(j.created_ms) }),
        h("dt", { text: "finished" }), h("dd", { text: time(j.finished_ms) })),
      j.error ? h("p.error", { text: j.error }) : null);
  }

  /* The legend and the head redrawn at most once per animation frame: a busy job sends a
   * thousand unit events a second, and the page must not fall behind them. */
  let frame = 0;
  let legendDirty = false;
  let headDirty = false;
  function redrawSoon(legendToo, headToo) {
    legendDirty ||= legendToo;
    headDirty ||= headToo;
    if (frame) return;
    frame = requestAnimationFrame(() => {
      frame = 0;
      if (!alive) return;
      if (legendDirty && grid) renderLegend();
      if (headDirty && job) renderHead();
      legendDirty = headDirty = false;
    });
  }

  function renderLegend() {
    const c = grid.counts();
    fill(legend, ...Object.entries(LETTERS).map(([l, name]) =>
      h("span.key", { dataset: { k: `grid.${l}` } }, h(`i.sw.u-${l}`), `${name} ${num(c[l])}`)));
  }

  async function showUnit(i) {
    fill(detail, h("p.muted", { text: `unit ${i}…` }));
    let u;
    try {
      u = (await getJSON(`/api/jobs/${id}?offset=${i}&limit=1`)).unit_list?.[0];
    } catch (e) {
      fill(detail, h("p.error", { text: e.message }));
      return;
    }
    if (!u) return;
    const r = u.result || {};
    const out = (label, digest) => {
      if (!digest) return null;
      const pre = h("pre.log", { text: "" });
      const cut = h("p.muted.cut", { hidden: true });
      const btn = h("button.small", { type: "button", text: `show ${label}`, onclick: async () => {
        try {
          const t = await getTextTail(blobUrl(digest, "text/plain"), MAX_LOG_SHOWN_BYTES);
          pre.textContent = t.text || `(${label} is empty)`;
          cut.hidden = !t.first;
          if (t.first) {
            fill(cut, `Showing the last ${bytes(t.size - t.first)} of ${bytes(t.size)}; `,
              h("a", { href: blobUrl(digest, "text/plain"), target: "_blank", text: `the whole ${label}` }), ".");
          }
        } catch (e) {
          pre.textContent = e.status === 404 ? `${label}: this master does not serve /api/blobs` : e.message;
        }
      } });
      return [h("h3", {}, label, " ", btn), cut, pre];
    };
    fill(detail,
      h("h2", { text: `Unit ${u.index}${u.name ? ` · ${u.name}` : ""}` }),
      h("dl.facts", { dataset: { unit: u.index } },
        h("dt", { text: "state" }), h("dd", {}, h("span.state", { dataset: { state: u.state }, text: u.cached ? `${u.state} (cache)` : u.state })),
        h("dt", { text: "agent" }), h("dd", { text: u.agent_name || (u.agent ? `#${u.agent}` : NONE) }),
        h("dt", { text: "attempts" }), h("dd", { text: `${num(u.attempts)} of ${num(u.max_attempts)}` }),
        h("dt", { text: "queued" }), h("dd", { text: time(u.queued_ms) }),
        h("dt", { text: "started" }), h("dd", { text: time(u.started_ms) }),
        h("dt", { text: "finished" }), h("dd", { text: time(u.finished_ms) }),
        h("dt", { text: "ran for" }), h("dd", { text: duration(r.duration_ms ?? (u.finished_ms && u.started_ms ? u.finished_ms - u.started_ms : null)) }),
        h("dt", { text: "exit status" }), h("dd", { text: u.exit_code ?? NONE })),
      u.why ? h("p.why", { text: `Waiting: ${u.why}` }) : null,
      u.error ? h("p.error", { text: u.error }) : null,
      u.argv ? h("p.argv", {}, h("code", { text: u.argv.join(" ") })) : null,
      (r.outputs || []).length ? h("ul.outputs", {}, r.outputs.map((o) => h("li", {}, `${o.path} `, h("code", { text: o.digest }),
        ` ${bytes(Number(String(o.digest).split("/")[1]))}`))) : null,
      out("stdout", r.stdout), out("stderr", r.stderr));
  }

  function addThumbs(u) {
    for (const o of u.result?.outputs || u.outputs || []) {
      if (!isImage(o.path) || thumbSeen.has(o.digest)) continue;
      thumbSeen.add(o.digest);
      const img = h("img", { alt: o.path });
      const fig = h("figure", {}, img, h("figcaption", { text: `${u.name || `unit ${u.index}`}: ${o.path}` }));
      thumbs.prepend(fig);
      while (thumbs.children.length > MAX_THUMBS) dropThumb(thumbs.lastChild);
      // Fetched with the token and shown from a blob: URL: under --auth-reads an <img src>
      // pointing at /api/blobs would be refused.
      getBlob(blobUrl(o.digest, "image/png")).then((b) => {
        if (!alive || !fig.isConnected) return;
        const url = URL.createObjectURL(b);
        thumbUrls.set(fig, url);
        img.src = url;
      }).catch(() => dropThumb(fig));
    }
  }

  function dropThumb(fig) {
    const url = thumbUrls.get(fig);
    if (url) URL.revokeObjectURL(url);
    thumbUrls.delete(fig);
    fig.remove();
  }

  async function loadThumbs() {
    if (job.type !== "RENDER" || !job.units?.done) return;
    const offset = Math.max(0, job.units.done - MAX_THUMBS);
    const page = await getJSON(`/api/jobs/${id}?state=done&offset=${offset}&limit=${MAX_THUMBS}`);
    for (const u of page.unit_list || []) addThumbs(u);
  }

  function setUnit(i, letter, fromEvent) {
    if (!grid || letter === null) return;
    grid.set(i, letter);
    redrawSoon(true, false);
    if (job.type === "RENDER" && (letter === "d" || letter === "c")) {
      if (fromEvent && fromEvent.outputs) addThumbs({ index: i, outputs: fromEvent.outputs });
      else getJSON(`/api/jobs/${id}?offset=${i}&limit=1`).then((p) => alive && p.unit_list?.[0] && addThumbs(p.unit_list[0]));
    }
  }

  async function reload() {
    const j = await getJSON(`/api/jobs/${id}?limit=0`).catch((e) => {
      fill(head, h("h1", { text: `Job #${params[0]}` }), h("p.error", { text: e.message }));
      return null;
    });
    if (!j || !alive) return;
    job = j;
    renderHead();
  }

  function followJob() {
    if (stopStream || liveStatus() !== "unavailable" || job.state !== "running") return;
    stopStream = jobStream(id, (type, d) => {
      if (!d) return;
      if (d.index !== undefined && d.state) setUnit(d.index, stateLetter(d.state, d.cached), d);
      if (type.startsWith("job_") || type === "unit_finished" || type === "unit_failed") reload();
    });
  }

  // Unit events that come before the grid: kept, and applied once it is drawn, those
  // after the grid's "seq" only (a master without it: all of them, in order).
  let early = [];
  followUnits(id);
  (async () => {
    await Promise.all([reload(), whenOpen()]); // the stream open first: no event falls between
    if (!job || !alive) return;
    const g = await getOptional(`/api/jobs/${id}/grid`);
    const states = g ? g.states : await gridFromUnits(id, job.units_total);
    if (!alive) return;
    grid = unitGrid(gridBox, states, showUnit);
    gridBox.dataset.units = String(states.length);
    const from = g && typeof g.seq === "number" ? g.seq : -Infinity;
    for (const [unit, letter, seq] of early) if (seq === null || seq >= from) setUnit(unit, letter);
    early = null;
    renderLegend();
    markLoaded(root);
    followJob();
    loadThumbs().catch(() => {});
  })();
  const stopStatus = onStatus(() => job && grid && followJob());

  return {
    unmount() {
      alive = false;
      followUnits(0);
      for (const url of thumbUrls.values()) URL.revokeObjectURL(url);
      cancelAnimationFrame(frame);
      stopStatus();
      if (stopStream) stopStream();
      if (grid) grid.destroy();
    },
    onEvent(type, d, seq) {
      if (!d || d.job === undefined && d.id === undefined) return;
      if (type === "unit" && d.job === id) {
        const letter = d.state in LETTERS ? d.state : null;
        if (early) early.push([d.unit, letter, seq]);
        else setUnit(d.unit, letter);
      }
      else if (type === "job" && d.id === id && job) {
        job = d;
        redrawSoon(false, true);
      }
    },
  };
}

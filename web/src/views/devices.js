// web/src/views/devices.js - #/devices: every agent with its hardware, toolchains, state,
// the units it runs now, drain/enable, and charts of CPU load, memory, and on an agent with
// GPUs their utilization and memory used (history from /api/devices/{id}/series, then
// each new load sample an `agent` event brings).
import { getJSON, getOptional } from "../api.js";
import { chart } from "../charts.js";
import { NONE, gb, h, num, pct, time } from "../format.js";
import { markLoaded, runAction } from "../ui.js";

/* The state the page shows: the master's, or "blocklisted" beside it when jobs bar it. */
export function agentState(a) {
  return a.state || a.status || "unknown";
}

/* The load sample an `agent` event or /api/devices carries, when the master sends one
 * (older masters send only the 1/5/15-minute load averages, as an array). */
function loadSample(a) {
  return a.load && !Array.isArray(a.load) ? a.load : null;
}

function gpuLine(g) {
  const cc = g.compute_capability ? `compute ${g.compute_capability}` : null;
  return h("li", { dataset: { gpu: g.index } },
    `${g.name || "GPU"} · ${gb(g.memory_gb)}`, cc ? ` · ${cc}` : "", g.api ? ` · ${g.api}` : "");
}

function field(label, key, value) {
  return [h("dt", { text: label }), h("dd", { dataset: { k: key }, text: value })];
}

function running(a) {
  const list = a.running_units || a.units || [];
  if (!list.length) return h("p.muted", { text: "no unit running" });
  return h("ul.units", {}, list.map((u) => h("li", {},
    h("a", { href: `#/jobs/${u.job}`, text: `job ${u.job}` }), ` unit ${u.index}`, u.name ? ` (${u.name})` : "")));
}

function info(a, refresh) {
  const state = agentState(a);
  const load = loadSample(a);
  const blocked = a.blocklisted_jobs || [];
  const draining = state === "draining" || a.admin_drained;
  return h("div.info", {},
    h("div.card-head", {},
      h("h2", { text: a.name }),
      h("span.state", { dataset: { state }, text: state }),
      blocked.length ? h("span.state", { dataset: { state: "blocklisted" },
        text: `blocklisted by job${blocked.length > 1 ? "s" : ""} ${blocked.join(", ")}` }) : null,
      state === "lost" ? null : h("button.small", {
        type: "button", dataset: { action: draining ? "enable" : "drain" },
        text: draining ? "Enable" : "Drain",
        onclick: async () => {
          const verb = draining ? "enable" : "drain";
          if (await runAction(`${verb} ${a.name}`, "POST", `/api/agents/${a.id}/${verb}`)) refresh();
        },
      })),
    h("dl.facts", {},
      field("host", "hostname", `${a.hostname || NONE} · ${a.architecture || ""} · ${a.os_version || a.os || ""}`),
      field("CPU", "cpu_model", a.cpu_model || NONE),
      field("cores", "cpu_cores", num(a.cpu_cores)),
      field("RAM", "ram_gb", gb(a.ram_gb)),
      field("slots", "slots", `${num(a.running)} of ${num(a.slots)} busy`),
      field("units done", "units_done", num(a.units_done)),
      field("units failed", "units_failed", num(a.units_failed)),
      load ? field("CPU load", "load_cpu", pct(load.cpu)) : null,
      load ? field("memory used", "mem_used_gb", `${gb(load.mem_used_gb)} of ${gb(load.mem_total_gb)}`) : null,
      field("last seen", "last_seen_ms", time(a.last_seen_ms))),
    h("h3", { text: "GPUs" }),
    (a.gpus || []).length ? h("ul.gpus", {}, a.gpus.map(gpuLine)) : h("p.muted", { dataset: { k: "gpus" }, text: "no GPU" }),
    (a.opencl_devices || []).length ? h("p.muted", {},
      `OpenCL: ${a.opencl_devices.map((d) => `${d.name} (${d.type}, ${num(d.compute_units)} CU)`).join("; ")}`) : null,
    h("h3", { text: "Toolchains" }),
    h("p.toolchains", { dataset: { k: "toolchains" } },
      (a.toolchains || []).map((t) => `${t.name} ${t.version || ""}`.trim()).join(", ") || NONE),
    h("h3", { text: "Running" }),
    running(a));
}

/* The charts of one agent, from its series; null series (older master): a note. */
function charts(el, a, series) {
  if (!series) {
    el.append(h("p.muted", { text: "load history needs /api/devices/{id}/series, which this master does not serve" }));
    return null;
  }
  const t = series.t || [];
  const gpuUtil = series.gpu_util || [];
  // Each chart its own copy of the times: push() appends to its chart's columns.
  const cpu = chart(el, "CPU load", [{ label: "busy", value: (v) => pct(v) }], [t.slice(), series.cpu || []], { yRange: [0, 1] });
  const mem = chart(el, "Memory used", [{ label: "RAM", value: (v) => gb(v) }], [t.slice(), series.mem_used_gb || []]);
  const n = Math.max(gpuUtil.length, (a.gpus || []).length);
  const gpu = n ? chart(el, "GPU utilization", Array.from({ length: n }, (_, i) => ({ label: `GPU ${i}`, value: (v) => pct(v) })),
    [t.slice(), ...Array.from({ length: n }, (_, i) => gpuUtil[i] || t.map(() => null))], { yRange: [0, 1] }) : null;
  const gpuMemUsed = series.gpu_mem_used_gb || [];
  const gpuMem = n ? chart(el, "GPU memory used", Array.from({ length: n }, (_, i) => ({ label: `GPU ${i}`, value: (v) => gb(v) })),
    [t.slice(), ...Array.from({ length: n }, (_, i) => gpuMemUsed[i] || t.map(() => null))]) : null;
  return {
    /* The time of the newest point, unix seconds. */
    lastTime() {
      const times = cpu.data[0];
      return times.length ? times[times.length - 1] : -Infinity;
    },
    push(sample, tSec) {
      cpu.push(tSec, [sample.cpu ?? null]);
      mem.push(tSec, [sample.mem_used_gb ?? null]);
      if (gpu) gpu.push(tSec, Array.from({ length: n }, (_, i) => sample.gpus?.[i]?.util ?? null));
      if (gpuMem) gpuMem.push(tSec, Array.from({ length: n }, (_, i) => sample.gpus?.[i]?.mem_used_gb ?? null));
    },
    destroy() {
      cpu.destroy();
      mem.destroy();
      if (gpu) gpu.destroy();
      if (gpuMem) gpuMem.destroy();
    },
  };
}

export function mount(root) {
  const cards = new Map(); // agent id -> {card, infoEl, charts}
  let alive = true;
  const grid = h("div.cards");
  const summary = h("p.summary");
  root.append(h("h1", { text: "Devices" }), summary, grid);

  function summarize() {
    const counts = {};
    for (const c of cards.values()) counts[agentState(c.agent)] = (counts[agentState(c.agent)] || 0) + 1;
    summary.textContent = `${cards.size} agent${cards.size === 1 ? "" : "s"}` +
      (cards.size ? `: ${Object.entries(counts).map(([s, n]) => `${n} ${s}`).join(", ")}` : "");
    summary.dataset.count = String(cards.size);
  }

  function put(a) {
    let c = cards.get(a.id);
    if (!c) {
      const card = h("section.card", { dataset: { agentId: a.id, agentName: a.name } });
      const chartsEl = h("div.charts");
      c = { card, chartsEl, agent: a, infoEl: null, charts: null };
      cards.set(a.id, c);
      card.append(h("div"), chartsEl);
      grid.append(card);
      getOptional(`/api/devices/${a.id}/series`).then((s) => {
        if (alive && cards.get(a.id) === c) c.charts = charts(chartsEl, a, s);
      }).catch((e) => chartsEl.append(h("p.error", { text: e.message })));
    }
    c.agent = a;
    const el = info(a, load);
    c.card.dataset.state = agentState(a);
    c.card.firstChild.replaceWith(el);
    summarize();
    return c;
  }

  async function load() {
    try {
      const d = await getJSON("/api/devices");
      if (!alive) return;
      for (const a of d.devices) put(a);
      if (!d.devices.length) summary.textContent = "No agent has registered with this master yet.";
      markLoaded(root);
    } catch (e) {
      summary.textContent = `Could not read /api/devices: ${e.message}`;
    }
  }
  load();

  return {
    unmount() {
      alive = false;
      for (const c of cards.values()) if (c.charts) c.charts.destroy();
    },
    onEvent(type, data) {
      if (type !== "agent" || !data || data.id === undefined) return;
      const c = put(data);
      // A point per new load sample: an `agent` event also comes for each busy/idle change,
      // carrying the same sample again. "t" names the sample (older masters: last seen).
      const sample = loadSample(data);
      const t = typeof sample?.t === "number" ? sample.t : data.last_seen_ms / 1000;
      if (sample && c.charts && t > c.charts.lastTime()) c.charts.push(sample, t);
    },
  };
}

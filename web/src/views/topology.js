// web/src/views/topology.js - #/topology: the master, its store and the agents as an SVG
// graph. Each agent's link is drawn as thick as its share of the traffic (bytes it fetched
// from and sent to the store, as the agent reports them); colours follow the agent's
// state. Redrawn on each `agent` event.
import { getJSON } from "../api.js";
import { bytes, h, num } from "../format.js";
import { markLoaded } from "../ui.js";
import { agentState } from "./devices.js";

const SVG = "http://www.w3.org/2000/svg";
const MIN_LINK_PX = 1.5;
const MAX_LINK_PX = 14;

function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, v);
  for (const c of children) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
}

function traffic(a) {
  return a.traffic ? (a.traffic.bytes_in || 0) + (a.traffic.bytes_out || 0) : null;
}

export function mount(root) {
  let alive = true;
  const agents = new Map();
  const svgBox = h("div.topology");
  const note = h("p.muted");
  root.append(h("h1", { text: "Topology" }), note, svgBox);

  function draw() {
    const list = [...agents.values()].sort((a, b) => a.id - b.id);
    const W = 1000;
    const H = 640;
    const cx = W / 2;
    const cy = H / 2;
    const R = Math.min(W, H) / 2 - 90;
    const max = Math.max(1, ...list.map((a) => traffic(a) || 0));
    const svg = s("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": "farm topology" });
    list.forEach((a, i) => {
      const angle = (2 * Math.PI * i) / Math.max(list.length, 1) - Math.PI / 2;
      const x = cx + R * Math.cos(angle);
      const y = cy + R * Math.sin(angle);
      const t = traffic(a);
      const w = t === null ? MIN_LINK_PX : MIN_LINK_PX + (MAX_LINK_PX - MIN_LINK_PX) * Math.sqrt(t / max);
      const state = agentState(a);
      svg.append(s("line", { x1: cx, y1: cy, x2: x, y2: y, class: `link state-${state}`, "stroke-width": w.toFixed(1) },
        s("title", {}, t === null ? `${a.name}: traffic not reported` : `${a.name}: ${bytes(a.traffic.bytes_in)} in, ${bytes(a.traffic.bytes_out)} out`)));
      const g = s("g", { class: `node agent state-${state}`, "data-agent-id": a.id, transform: `translate(${x},${y})` },
        s("circle", { r: 30 }),
        s("text", { y: -38, class: "name" }, a.name),
        s("text", { y: 5 }, state),
        s("text", { y: 50, class: "small" }, `${num(a.running)}/${num(a.slots)} slots`),
        t === null ? "" : s("text", { y: 66, class: "small" }, bytes(t)));
      svg.append(g);
    });
    // The store lives in the master's process: one block, master above store, drawn over
    // the links' ends (the agents' traffic is with the store).
    svg.append(s("g", { class: "node master", transform: `translate(${cx},${cy - 22})` },
      s("rect", { x: -60, y: -24, width: 120, height: 48, rx: 8 }), s("text", { y: 5 }, "master")));
    svg.append(s("g", { class: "node store", transform: `translate(${cx},${cy + 24})` },
      s("rect", { x: -60, y: -18, width: 120, height: 36, rx: 18 }), s("text", { y: 5 }, "store")));
    svgBox.replaceChildren(svg);
    const reported = list.some((a) => traffic(a) !== null);
    note.textContent = list.length
      ? `${list.length} agent${list.length === 1 ? "" : "s"}; ${reported ? "links sized by each agent's bytes to and from the store" : "this master reports no per-agent traffic: links drawn thin"}.`
      : "No agent has registered yet.";
  }

  getJSON("/api/devices").then((d) => {
    if (!alive) return;
    for (const a of d.devices) agents.set(a.id, a);
    draw();
    markLoaded(root);
  }).catch((e) => { note.textContent = `Could not read /api/devices: ${e.message}`; });

  return {
    unmount() {
      alive = false;
    },
    onEvent(type, d) {
      if (type !== "agent" || !d || d.id === undefined) return;
      agents.set(d.id, d);
      draw();
    },
  };
}

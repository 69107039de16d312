// web/src/main.js - the dashboard's entry: the hash router (#/devices, #/queue, #/jobs/ID,
// #/metrics, #/topology), the light/dark theme, the token button and the live indicator.
// Each view is a module with mount(root, params) returning {unmount, onEvent}.
import { needsReadToken } from "./api.js";
import { askToken, notify } from "./ui.js";
import { liveStatus, onResync, onStatus, start, subscribe } from "./live.js";
import * as devices from "./views/devices.js";
import * as queue from "./views/queue.js";
import * as job from "./views/job.js";
import * as metrics from "./views/metrics.js";
import * as topology from "./views/topology.js";
import "./style.css";

const THEME_KEY = "udcs.theme";
const routes = { devices, queue, jobs: job, metrics, topology };
let current = null;

function route() {
  // A view keeps its filters after "?" (#/queue?state=failed): not part of the route.
  const parts = (location.hash || "#/devices").replace(/^#\/?/, "").split("?")[0].split("/");
  const name = routes[parts[0]] ? parts[0] : "devices";
  if (current) current.unmount();
  notify(""); // a notice belongs to the view it came from
  const root = document.getElementById("view");
  root.replaceChildren();
  root.dataset.view = name;
  root.dataset.scheme = effectiveTheme(); // the colours it is drawn in
  delete root.dataset.loaded; // each view sets it once its data is on the page
  for (const a of document.querySelectorAll("#nav a")) {
    a.classList.toggle("active", a.dataset.route === name || (name === "jobs" && a.dataset.route === "queue"));
  }
  current = routes[name].mount(root, parts.slice(1));
}

/* The theme: the system's (prefers-color-scheme) until the button picks one. */
function applyTheme(theme) {
  if (theme) document.documentElement.dataset.theme = theme;
  else delete document.documentElement.dataset.theme;
}

function effectiveTheme() {
  return document.documentElement.dataset.theme ||
    (matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light");
}

applyTheme(localStorage.getItem(THEME_KEY));
document.getElementById("theme-button").addEventListener("click", () => {
  const next = effectiveTheme() === "dark" ? "light" : "dark";
  localStorage.setItem(THEME_KEY, next);
  applyTheme(next);
  route(); // charts take their colours when drawn
});
// Charts and the unit grid take their colours when drawn: redraw when the system's scheme
// changes while it is the one in use.
matchMedia("(prefers-color-scheme: dark)").addEventListener("change", () => {
  if (!localStorage.getItem(THEME_KEY)) route();
});
document.getElementById("token-button").addEventListener("click", async () => {
  if (!(await askToken())) return;
  // A stream refused for want of the token (--auth-reads) can start now, and a view whose
  // reads were refused reads them again instead of showing its 401 until a reload.
  if (liveStatus() === "needs token") start();
  if (needsReadToken()) route();
});
onStatus((s) => {
  const el = document.getElementById("live");
  el.textContent = s === "unavailable" ? "per-job updates" : s;
  el.dataset.state = s;
  el.title = s === "unavailable"
    ? "this master has no /api/events: job pages follow their job's own stream"
    : "live updates from /api/events";
});
subscribe((type, data, seq) => current && current.onEvent && current.onEvent(type, data, seq));
onResync(() => route()); // events were missed: the view reads its data afresh
window.addEventListener("hashchange", route);
start();
route();

// tests/e2e/bench_dashboard.mjs - the dashboard's benchmark, run by tests/bench/run_web.sh
// against a master and agents it started. Measures, in headless Chromium:
//   (a) time to first render of #/devices: navigation start to the view's User Timing mark
//       "udcs:devices:loaded" (its data on the page), and first contentful paint;
//   (b) the same for a job page of 10,000 units (and 100,000), the grid drawn;
//   (c) update latency: a unit's finished_ms at the master to the page's grid showing it;
//   (d) the master's CPU (utime+stime from /proc/PID/stat) over MEASURE_S seconds with no
//       dashboard and then with DASHBOARDS open ones, while a job runs.
// Environment: WEB_URL, TOKEN, FARM_PID, CLK_TCK, RESULTS (the markdown file to write),
// DASHBOARDS (20), MEASURE_S (30), RUNS (5).
import { createRequire } from "node:module";
import { readFileSync, writeFileSync } from "node:fs";
import { execFileSync } from "node:child_process";

const { chromium } = createRequire(new URL("../../web/package.json", import.meta.url))("playwright-core");
const base = process.env.WEB_URL;
const token = process.env.TOKEN;
const farmPid = Number(process.env.FARM_PID);
const clkTck = Number(process.env.CLK_TCK || 100);
const DASHBOARDS = Number(process.env.DASHBOARDS || 20);
const MEASURE_S = Number(process.env.MEASURE_S || 30);
const RUNS = Number(process.env.RUNS || 5);

const log = (...a) => console.error("bench:", ...a);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const pctl = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))];
const ms = (v) => `${Math.round(v)} ms`;

async function api(path, init = {}) {
  const res = await fetch(base + path, init);
  if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
  return res.json();
}
async function submit(spec) {
  const r = await api("/api/submit", { method: "POST", body: JSON.stringify(spec),
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" } });
  return r.job_id;
}
const units = (n, argv, extra = {}) => Array.from({ length: n }, (_, i) => ({ argv: argv(i), ...extra }));
async function waitJob(id, pred, limitMs = 600000) {
  const end = Date.now() + limitMs;
  for (;;) {
    const j = await api(`/api/jobs/${id}?limit=0`);
    if (pred(j)) return j;
    if (Date.now() > end) throw new Error(`job ${id} did not get there: ${j.state}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
function cpuTicks(pid) {
  // Fields after the command's closing parenthesis: utime and stime are the 12th and 13th.
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(f[11]) + Number(f[12]);
}
const sleep = (s) => new Promise((r) => setTimeout(r, s * 1000));

const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || "/usr/bin/chromium", headless: true });
const viewport = { width: 1440, height: 900 };

/* Load #/HASH in a new context RUNS times; the view's mark and FCP, from navigation start. */
async function firstRender(hash, view, units) {
  const marks = [];
  const fcps = [];
  for (let i = 0; i < RUNS; i++) {
    const ctx = await browser.newContext({ viewport });
    const page = await ctx.newPage();
    await page.goto(`${base}/#/${hash}`);
    await page.waitForSelector("#view[data-loaded]", { timeout: 120000 });
    const t = await page.evaluate((name) => ({
      mark: performance.getEntriesByName(name)[0]?.startTime,
      fcp: performance.getEntriesByName("first-contentful-paint")[0]?.startTime,
    }), `udcs:${view}:loaded`);
    const shown = units && await page.getAttribute(".grid-box", "data-units");
    if (units && shown !== String(units)) throw new Error(`the grid has ${shown} cells, not ${units}`);
    marks.push(t.mark);
    fcps.push(t.fcp);
    await ctx.close();
  }
  return { mark: median(marks), fcp: median(fcps), min: Math.min(...marks), max: Math.max(...marks) };
}

const rows = [];
// ---- (a) the devices view -----------------------------------------------------------------
log("(a) first render of #/devices");
const dev = await firstRender("devices", "devices");
rows.push(["First render, #/devices (2 agents)", ms(dev.mark), `FCP ${ms(dev.fcp)}; ${RUNS} loads, ${ms(dev.min)}–${ms(dev.max)}`]);

// ---- (b) job pages of 10,000 and 100,000 units (queued: no agent has riscv64) -------------
for (const n of [10000, 100000]) {
  log(`(b) first render of a job page of ${n} units`);
  const id = await submit({ type: "EXEC", units: units(n, (i) => ["true", String(i)], { requirements: { architecture: "riscv64" } }) });
  const r = await firstRender(`jobs/${id}`, "jobs", n);
  rows.push([`First render, job page of ${n.toLocaleString("en-US")} units`, ms(r.mark), `FCP ${ms(r.fcp)}; ${RUNS} loads, ${ms(r.min)}–${ms(r.max)}`]);
  await fetch(`${base}/api/jobs/${id}`, { method: "DELETE", headers: { Authorization: `Bearer ${token}` } });
}

// ---- (c) update latency -----------------------------------------------------------------------
log("(c) update latency, unit finished at the master to the grid showing it");
{
  const N = 40;
  const ctx = await browser.newContext({ viewport });
  const page = await ctx.newPage();
  const id = await submit({ type: "EXEC", units: units(N, (i) => ["sh", "-c", `sleep 0.3; echo ${Date.now()}-${i}`]) });
  await page.goto(`${base}/#/jobs/${id}`);
  await page.waitForSelector("#view[data-loaded]");
  // Each change of the done count, with the wall-clock time the page saw it.
  const start = await page.evaluate(() => {
    window.__seen = [];
    const count = () => Number(document.querySelector("[data-k='grid.d']").textContent.replace(/\D/g, ""));
    new MutationObserver(() => window.__seen.push([count(), Date.now()]))
      .observe(document.querySelector(".legend"), { childList: true, subtree: true, characterData: true });
    return count();
  });
  await waitJob(id, (j) => j.state === "done");
  await page.waitForFunction((n) => window.__seen.some(([c]) => c >= n), N, { timeout: 120000 });
  const seen = await page.evaluate(() => window.__seen);
  const job = await api(`/api/jobs/${id}?limit=${N}`);
  const finished = job.unit_list.map((u) => u.finished_ms).sort((a, b) => a - b);
  const lat = [];
  for (let k = start + 1; k <= N; k++) {
    const shown = seen.find(([c]) => c >= k);
    if (shown) lat.push(shown[1] - finished[k - 1]);
  }
  rows.push(["Update latency, unit done at the master → grid cell shown", `p50 ${ms(median(lat))}`,
    `p95 ${ms(pctl(lat, 95))}, max ${ms(Math.max(...lat))}; ${lat.length} units, SSE /api/events`]);
  await ctx.close();
}

// ---- (d) the master's CPU with DASHBOARDS open pages ----------------------------------------
log(`(d) the master's CPU over ${MEASURE_S} s, without and with ${DASHBOARDS} dashboards`);
{
  const busy = await submit({ type: "EXEC", units: units(4000, (i) => ["sh", "-c", `sleep 0.2; echo ${i}`]) });
  await waitJob(busy, (j) => (j.units?.done || 0) > 10);
  const measure = async () => {
    const t0 = cpuTicks(farmPid);
    const d0 = (await api(`/api/jobs/${busy}?limit=0`)).units.done;
    await sleep(MEASURE_S);
    const d1 = (await api(`/api/jobs/${busy}?limit=0`)).units.done;
    return { cpu: (cpuTicks(farmPid) - t0) / clkTck / MEASURE_S, units: d1 - d0 };
  };
  const idle = await measure();
  const pages = [];
  const views = ["devices", "queue", `jobs/${busy}`, "metrics", "topology"];
  for (let i = 0; i < DASHBOARDS; i++) {
    const ctx = await browser.newContext({ viewport });
    const page = await ctx.newPage();
    await page.goto(`${base}/#/${views[i % views.length]}`);
    await page.waitForSelector("#view[data-loaded]", { timeout: 60000 });
    pages.push(ctx);
  }
  const open = await measure();
  rows.push([`Master CPU, job running, no dashboard (${MEASURE_S} s)`, `${(idle.cpu * 100).toFixed(1)} % of a core`, `${idle.units} units done meanwhile`]);
  rows.push([`Master CPU, same job, ${DASHBOARDS} open dashboards (${MEASURE_S} s)`, `${(open.cpu * 100).toFixed(1)} % of a core`,
    `${open.units} units done meanwhile; pages spread over the five views, each with its /api/events stream`]);
  for (const c of pages) await c.close();
  await fetch(`${base}/api/jobs/${busy}`, { method: "DELETE", headers: { Authorization: `Bearer ${token}` } });
}
await browser.close();

const cpu = execFileSync("sh", ["-c", "grep -m1 'model name' /proc/cpuinfo | cut -d: -f2; nproc"]).toString().trim().split("\n");
const md = [`# Dashboard benchmark`, "",
  `Chromium ${browser.version()} headless, viewport ${viewport.width}×${viewport.height}, on the same machine as the master`,
  `and two agents (${cpu[0].trim()}, ${cpu[1]} cores). Times from Chromium's performance timeline: navigation start to the`,
  "view's `udcs:VIEW:loaded` mark (its data on the page), medians of fresh loads.", "",
  "| measure | result | detail |", "| --- | --- | --- |", ...rows.map((r) => `| ${r.join(" | ")} |`), ""].join("\n");
writeFileSync(process.env.RESULTS, md);
console.log(md);

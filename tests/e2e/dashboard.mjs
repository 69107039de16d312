// tests/e2e/dashboard.mjs - the dashboard in a real browser (Debian's Chromium, headless,
// driven by playwright-core), against a real master and two agents that
// tests/integration/test_dashboard.sh started. Prints TAP lines ("ok - ..."); the shell
// script numbers the plan. Every check waits for a condition with a deadline; none sleeps.
//
// Environment: WEB_URL (the master's web port), TOKEN, UDCS_BIN, SCENE (for udcs-render), AGENT_KILL_PID (the agent to kill -9,
// named AGENT_KILL_NAME), AGENT_GPU_NAME (the agent declared with a GPU), OUT (screenshots),
// CHROMIUM (default /usr/bin/chromium).
import { execFileSync } from "node:child_process";
import { createRequire } from "node:module";

// playwright-core is installed in web/node_modules (from web/package-lock.json); an ES
// module resolves packages from its own folder only, so ask web/'s resolver.
const { chromium } = createRequire(new URL("../../web/package.json", import.meta.url))("playwright-core");

const env = (k) => {
  if (!process.env[k]) throw new Error(`set ${k}`);
  return process.env[k];
};
const base = env("WEB_URL");
const token = env("TOKEN");
const out = env("OUT");
const WAIT_MS = 20000;

let failed = 0;
function ok(cond, what, detail) {
  console.log(`${cond ? "ok" : "not ok"} - ${what}`);
  if (!cond) {
    failed++;
    if (detail !== undefined) console.log(`# ${String(detail).replace(/\n/g, "\n# ")}`);
  }
}
async function step(what, fn) {
  try {
    const r = await fn();
    ok(r !== false, what);
  } catch (e) {
    ok(false, what, e.stack || e.message);
  }
}

async function api(path, init = {}) {
  const res = await fetch(base + path, init);
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}
async function submit(spec) {
  const r = await api("/api/submit", { method: "POST", body: JSON.stringify(spec),
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" } });
  if (r.status !== 201 && r.status !== 200) throw new Error(`submit: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body.job_id;
}
const execJob = (n, sleep, tag, priority = 5) => ({ type: "EXEC", priority,
  units: Array.from({ length: n }, (_, i) => ({ argv: ["sh", "-c", `sleep ${sleep}; echo ${tag}-${i}; echo ${tag}-${i} > out.txt`],
    outputs: ["out.txt"] })) });
const fmtGB = (v) => `${Number(v).toLocaleString("en-US", { minimumFractionDigits: 1, maximumFractionDigits: 1 })} GB`;
const fmtNum = (v) => Number(v).toLocaleString("en-US", { maximumFractionDigits: 0 });

const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || "/usr/bin/chromium", headless: true });
const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
const page = await context.newPage();
const foreign = [];
const pageErrors = [];
// blob: URLs of the master's origin are the thumbnails, fetched from it with the token.
page.on("request", (r) => { if (!r.url().startsWith(base) && !r.url().startsWith(`blob:${base}`) && !r.url().startsWith("data:")) foreign.push(r.url()); });
page.on("pageerror", (e) => pageErrors.push(e.message));
page.setDefaultTimeout(WAIT_MS);

async function open(hash) {
  await page.goto(`${base}/#/${hash}`);
  await page.waitForSelector("#view[data-loaded]");
}
async function shots(name) {
  for (const scheme of ["light", "dark"]) {
    await page.emulateMedia({ colorScheme: scheme }); // the page redraws its charts in the scheme
    await page.waitForSelector(`#view[data-loaded][data-scheme=${scheme}]`);
    await page.waitForFunction(() => document.fonts.status === "loaded");
    await page.screenshot({ path: `${out}/${name}-${scheme}.png`, fullPage: true });
  }
  await page.emulateMedia({ colorScheme: "light" });
  await page.waitForSelector("#view[data-loaded][data-scheme=light]");
}
const text = (sel) => page.locator(sel).first().textContent();

// ---- devices: both agents, with their hardware, as /api/devices says --------------------
await step("the dashboard loads from the master (index.html, app.js, app.css)", async () => {
  const res = await page.goto(`${base}/`);
  await page.waitForSelector("#view[data-loaded]");
  return res.status() === 200 && (await page.title()) === "UDCS farm";
});
await step("devices: both agents appear", () => page.waitForFunction(() => document.querySelectorAll("[data-agent-name]").length === 2));
await step("the live stream connects (/api/events)", () => page.waitForSelector("#live[data-state=live]"));
const devices = (await api("/api/devices")).body.devices;
for (const a of devices) {
  const card = `[data-agent-id="${a.id}"]`;
  await step(`agent ${a.name}: cores, RAM, CPU and state equal /api/devices`, async () => {
    const got = [await text(`${card} [data-k=cpu_cores]`), await text(`${card} [data-k=ram_gb]`),
      await text(`${card} [data-k=cpu_model]`), await text(`${card} .state`)];
    const want = [fmtNum(a.cpu_cores), fmtGB(a.ram_gb), a.cpu_model, a.state];
    if (JSON.stringify(got) !== JSON.stringify(want)) throw new Error(`page ${JSON.stringify(got)}, API ${JSON.stringify(want)}`);
  });
  await step(`agent ${a.name}: every toolchain is listed`, async () => {
    const t = await text(`${card} [data-k=toolchains]`);
    const absent = a.toolchains.filter((tc) => !t.includes(`${tc.name} ${tc.version}`));
    if (absent.length) throw new Error(`missing ${absent.map((tc) => tc.name)}`);
  });
}
const gpuAgent = devices.find((a) => a.name === env("AGENT_GPU_NAME"));
await step("the GPU agent shows its GPU with its memory", async () => {
  const t = await text(`[data-agent-id="${gpuAgent.id}"] ul.gpus`);
  return t.includes(gpuAgent.gpus[0].name) && t.includes(fmtGB(gpuAgent.gpus[0].memory_gb));
});
await step("each agent has CPU and memory charts", () => page.waitForFunction(() =>
  [...document.querySelectorAll("[data-agent-name]")].every((c) => c.querySelectorAll(".uplot").length >= 2)));
await step("the GPU agent also charts GPU utilization and GPU memory; the other has no GPU chart", () => page.waitForFunction((gpuName) =>
  [...document.querySelectorAll("[data-agent-name]")].every((c) => c.querySelectorAll(".uplot").length === (c.dataset.agentName === gpuName ? 4 : 2)) &&
  document.querySelector(`[data-agent-name="${gpuName}"] .charts`).textContent.includes("GPU memory used"), env("AGENT_GPU_NAME")));
await shots("devices");

// ---- a job's progress advances live, without a reload ------------------------------------
const J1 = await submit(execJob(60, 0.4, "run1"));
await open(`jobs/${J1}`);
await page.evaluate(() => { window.__sameDocument = true; });
const doneNow = async () => Number((await text("[data-k='grid.d']")).replace(/\D/g, ""));
await step("job page: the grid has one cell per unit", async () => (await page.getAttribute(".grid-box", "data-units")) === "60");
let seen = new Set([await doneNow()]);
await step("job page: the done count advances live (three different counts seen)", async () => {
  const end = Date.now() + WAIT_MS;
  while (seen.size < 3 && Date.now() < end) {
    await page.waitForFunction((n) => Number(document.querySelector("[data-k='grid.d']").textContent.replace(/\D/g, "")) !== n,
      await doneNow(), { timeout: end - Date.now() });
    seen.add(await doneNow());
  }
  if (seen.size < 3) throw new Error(`counts seen: ${[...seen]}`);
});
await step("job page: it reaches done, all 60 cells done", () => page.waitForFunction(() =>
  document.querySelector("[data-k=state]").textContent === "done" &&
  document.querySelector("[data-k='grid.d']").textContent.endsWith(" 60")));
await step("without a reload (same document, one navigation)", () => page.evaluate(() =>
  window.__sameDocument === true && performance.getEntriesByType("navigation").length === 1));
await step("clicking a unit shows its agent, as /api/jobs/ID says", async () => {
  await page.locator("canvas.grid").click({ position: { x: 3, y: 3 } });
  await page.waitForSelector(".unit-detail [data-unit='0']");
  const u = (await api(`/api/jobs/${J1}?offset=0&limit=1`)).body.unit_list[0];
  const t = await text(".unit-detail");
  if (!t.includes(u.agent_name)) throw new Error(`detail ${t} lacks agent ${u.agent_name}`);
});
await step("and its stdout, from /api/blobs", async () => {
  await page.locator(".unit-detail button", { hasText: "show stdout" }).click();
  await page.waitForFunction(() => document.querySelector(".unit-detail pre.log")?.textContent === "run1-0\n");
});
await shots("job");
await step("a stdout over 1 MiB: its last 1 MiB is shown, saying it is cut", async () => {
  const id = await submit({ type: "EXEC", units: [{ argv: ["sh", "-c", "head -c 1500000 /dev/zero | tr '\\0' x; echo; echo END"] }] });
  const end = Date.now() + WAIT_MS;
  while ((await api(`/api/jobs/${id}?limit=0`)).body.state === "running" && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
  await open(`jobs/${id}`);
  await page.locator("canvas.grid").click({ position: { x: 3, y: 3 } });
  await page.locator(".unit-detail button", { hasText: "show stdout" }).click();
  await page.waitForFunction(() => document.querySelector(".unit-detail pre.log")?.textContent.endsWith("x\nEND\n"));
  const shown = await page.evaluate(() => document.querySelector(".unit-detail pre.log").textContent.length);
  const note = await text(".unit-detail .cut");
  if (shown !== 1024 * 1024 || !/last 1\.0 MB of 1\.5 MB/.test(note)) throw new Error(`shown ${shown} characters, note '${note}'`);
});

// ---- a unit that cannot run says why ----------------------------------------------------
await step("a unit no agent can take shows the master's reason on its page", async () => {
  const id = await submit({ type: "EXEC", units: [{ argv: ["true"], requirements: { architecture: "riscv64" } }] });
  await open(`jobs/${id}`);
  await page.locator("canvas.grid").click({ position: { x: 3, y: 3 } });
  const why = (await api(`/api/jobs/${id}`)).body.unit_list[0].why;
  await page.waitForSelector(".unit-detail .why");
  const shown = await text(".unit-detail .why");
  if (!why || shown !== `Waiting: ${why}`) throw new Error(`page '${shown}', API '${why}'`);
  await api(`/api/jobs/${id}`, { method: "DELETE", headers: { Authorization: `Bearer ${token}` } });
});

// ---- a render job: thumbnails of its frames appear on its page ---------------------------
await step("a render job's page shows a thumbnail of each finished frame", async () => {
  const id = execFileSync(`${env("UDCS_BIN")}/udcs-render`, [env("SCENE"), "--frames", "1-4", "--size", "48x48",
    "--samples", "2", "-o", `${out}/render/frame_####.png`, "--detach"], { encoding: "utf8" }).trim();
  await open(`jobs/${id}`);
  await page.waitForFunction(() => [...document.querySelectorAll(".thumbs img")].filter((i) => i.complete && i.naturalWidth === 48).length === 4);
  const job = (await api(`/api/jobs/${id}`)).body;
  return job.state === "done" && job.units.done === 4;
});
await shots("render");

// ---- a large, busy job: the page keeps up and every cell ends done ------------------------
await step("a 3,000-unit job: unit events that beat the grid are applied, and every cell ends done", async () => {
  const n = 3000;
  const nonce = String(Date.now());
  const id = await submit({ type: "EXEC", units: Array.from({ length: n }, (_, i) => ({ argv: ["true", nonce, String(i)] })) });
  // Hold the grid's answer back while units finish, so that events newer than it arrive
  // first (they were dropped).
  let held = 0;
  await page.route("**/api/jobs/*/grid", async (r) => {
    held++;
    const response = await r.fetch();
    await new Promise((res) => setTimeout(res, 1500));
    await r.fulfill({ response });
  });
  await open(`jobs/${id}`);
  await page.unroute("**/api/jobs/*/grid");
  const end = Date.now() + 45000;
  while ((await api(`/api/jobs/${id}?limit=0`)).body.state === "running" && Date.now() < end) {
    await new Promise((res) => setTimeout(res, 250));
  }
  const job = (await api(`/api/jobs/${id}?limit=0`)).body;
  if (job.state !== "done" || held !== 1) throw new Error(`job ${job.state}, grid reads held ${held}`);
  await page.waitForFunction((want) => document.querySelector("[data-k='grid.d']").textContent.endsWith(` ${want}`) &&
    document.querySelector("[data-k=state]").textContent === "done", fmtNum(n), { timeout: 10000 });
  // The legend counts what the cells hold: read the cells' pixels too, against the swatch.
  const wrong = await page.evaluate((count) => {
    const c = document.querySelector("canvas.grid");
    const cell = Number(c.dataset.cellPx);
    const cols = Number(c.dataset.cols);
    const dpr = c.width / c.clientWidth;
    const px = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
    const want = getComputedStyle(document.querySelector(".legend .sw.u-d")).backgroundColor;
    const bad = [];
    for (let i = 0; i < count; i++) {
      const x = Math.floor(((i % cols) * cell + 1) * dpr);
      const y = Math.floor((Math.floor(i / cols) * cell + 1) * dpr);
      const o = (y * c.width + x) * 4;
      if (`rgb(${px[o]}, ${px[o + 1]}, ${px[o + 2]})` !== want) bad.push(i);
    }
    return bad;
  }, n);
  if (wrong.length) throw new Error(`${wrong.length} cells not drawn done, e.g. ${wrong.slice(0, 5)}`);
});

// ---- the queue's numbers equal /api/jobs ---------------------------------------------------
await open("queue");
await step("queue: each job's state, units done, cache hits and priority equal /api/jobs", async () => {
  const jobs = (await api("/api/jobs")).body.jobs;
  for (const j of jobs) {
    const row = `tr[data-job-id="${j.id}"]`;
    const got = [await page.getAttribute(row, "data-state"), await text(`${row} .progress .label`),
      await text(`${row} [data-k=cache_hits]`), await text(`${row} [data-k=priority]`)];
    const want = [j.state, `${fmtNum(j.units.done)} / ${fmtNum(j.units_total)}`, fmtNum(j.cache_hits), fmtNum(j.priority)];
    if (JSON.stringify(got) !== JSON.stringify(want)) throw new Error(`job ${j.id}: page ${JSON.stringify(got)}, API ${JSON.stringify(want)}`);
  }
});
await step("queue: the kind filter shows the RENDER jobs /api/jobs has, and only those", async () => {
  const want = (await api("/api/jobs")).body.jobs.filter((j) => j.type === "RENDER").map((j) => String(j.id));
  await page.selectOption("#filter-kind", "RENDER");
  await page.waitForFunction((n) => document.querySelectorAll("tr[data-job-id]").length === n, want.length);
  const got = await page.$$eval("tr[data-job-id]", (trs) => trs.map((tr) => tr.dataset.jobId));
  if (JSON.stringify(got.sort()) !== JSON.stringify(want.sort())) throw new Error(`page ${got}, API ${want}`);
  await page.selectOption("#filter-kind", "");
  await page.waitForFunction(() => document.querySelectorAll("tr[data-job-id]").length > 1);
});
await shots("queue");
await step("queue: an address with filters (#/queue?state=done) opens the queue, filtered", async () => {
  await page.goto(`${base}/#/queue?state=done`);
  await page.reload(); // a shared link or a reload: the router sees the ?filters
  await page.waitForSelector("#view[data-view=queue][data-loaded]");
  const want = (await api("/api/jobs?state=done")).body.total;
  await page.waitForFunction((n) => document.querySelectorAll("tr[data-job-id][data-state=done]").length === Math.min(n, 50) &&
    !document.querySelector("tr[data-job-id]:not([data-state=done])"), want);
  return (await page.inputValue("#filter-state")) === "done";
});

// ---- actions: refused without the token, the master's reason shown; done with it ----------
const J2 = await submit(execJob(20, 30, "slow"));
await step("DELETE /api/jobs/ID without a token: 401 from the master", async () => {
  const r = await api(`/api/jobs/${J2}`, { method: "DELETE" });
  if (r.status !== 401) throw new Error(`got ${r.status}`);
});
await open(`jobs/${J2}`);
await page.waitForSelector("[data-action=cancel]:not([disabled])");
await step("a wrong token: the page shows the master's refusal", async () => {
  await page.click("[data-action=cancel]");
  await page.waitForSelector("[data-action=cancel]:text('Cancel job?')");
  await page.click("[data-action=cancel]");
  await page.fill("#token-input", "not-the-token");
  await page.click("#token-save");
  await page.waitForFunction(() => /403: the bearer token was refused/.test(document.getElementById("notice").textContent));
  return (await api(`/api/jobs/${J2}`)).body.state === "running";
});
await step("cancel from the page with the token: the job is cancelled", async () => {
  await page.click("#token-button");
  await page.fill("#token-input", token);
  await page.click("#token-save");
  await page.click("[data-action=cancel]");
  await page.waitForSelector("[data-action=cancel]:text('Cancel job?')");
  await page.click("[data-action=cancel]");
  await page.waitForFunction(() => document.querySelector("[data-k=state]").textContent === "cancelled");
  return (await api(`/api/jobs/${J2}`)).body.state === "cancelled";
});
await step("the token stays in this tab's session storage", () => page.evaluate((t) => sessionStorage.getItem("udcs.token") === t, token));
await step("priority changed from the page reaches the master", async () => {
  const J3 = await submit(execJob(2, 0, "prio", 3));
  await open(`jobs/${J3}`);
  await page.selectOption("[data-action=priority]", "8");
  await page.waitForFunction(() => document.querySelector("[data-k=priority]").textContent === "8");
  return (await api(`/api/jobs/${J3}`)).body.priority === 8;
});
await step("drain and enable an agent from the devices page", async () => {
  await open("devices");
  const card = `[data-agent-id="${gpuAgent.id}"]`;
  await page.click(`${card} [data-action=drain]`);
  await page.waitForSelector(`${card} [data-action=enable]`);
  const drained = (await api("/api/devices")).body.devices.find((a) => a.id === gpuAgent.id).admin_drained;
  await page.click(`${card} [data-action=enable]`);
  await page.waitForSelector(`${card} [data-action=drain]`);
  const back = (await api("/api/devices")).body.devices.find((a) => a.id === gpuAgent.id).admin_drained;
  if (drained !== true || back !== false) throw new Error(`admin_drained ${drained} then ${back}`);
});

// ---- metrics and topology ------------------------------------------------------------------
await open("metrics");
await step("metrics: six charts from /api/metrics/series", () => page.waitForFunction(() => document.querySelectorAll(".charts.metrics .uplot").length === 6));
await shots("metrics");
await open("topology");
await step("topology: the master, the store and both agents", async () =>
  (await page.locator(".topology .node.agent").count()) === 2 && (await page.locator(".topology .node.master").count()) === 1);
await shots("topology");

// ---- an agent killed: marked lost, live --------------------------------------------------
await open("devices");
const victim = env("AGENT_KILL_NAME");
process.kill(Number(env("AGENT_KILL_PID")), "SIGKILL");
await step(`agent ${victim}, killed with SIGKILL, is shown lost without a reload`, () =>
  page.waitForSelector(`[data-agent-name="${victim}"] .state[data-state=lost]`, { timeout: 30000 }));
await step("the page says what /api/devices says", async () =>
  (await api("/api/devices")).body.devices.find((a) => a.name === victim).state === "lost");
await shots("devices-lost");

// ---- a master with --auth-reads: the page says so, and works once given the token ---------
{
  const authBase = env("AUTH_WEB_URL");
  const ctx = await browser.newContext({ viewport: { width: 1440, height: 900 } });
  const p = await ctx.newPage();
  p.on("pageerror", (e) => pageErrors.push(e.message));
  p.on("request", (r) => { if (!r.url().startsWith(authBase) && !r.url().startsWith(`blob:${authBase}`) && !r.url().startsWith("data:")) foreign.push(r.url()); });
  await p.goto(`${authBase}/#/devices`);
  await step("--auth-reads: without the token the page shows the master's 401 text", () =>
    p.waitForFunction(() => /401: .*needs a bearer token/.test(document.querySelector(".summary")?.textContent || "")));
  await step("--auth-reads: the live stream says it needs the token", () => p.waitForSelector("#live[data-state='needs token']"));
  await step("--auth-reads: once the token is entered the view reads again, without a reload, and goes live", async () => {
    await p.click("#token-button");
    await p.fill("#token-input", env("AUTH_TOKEN"));
    await p.click("#token-save");
    await p.waitForSelector("#live[data-state=live]");
    await p.waitForSelector("#view[data-loaded] [data-agent-name]");
    return p.evaluate(() => performance.getEntriesByType("navigation").length === 1);
  });
  await step("--auth-reads: a render job's thumbnails show (fetched with the token)", async () => {
    const id = execFileSync(`${env("UDCS_BIN")}/udcs-render`, [env("SCENE"), "--frames", "1-2", "--size", "48x48",
      "--samples", "2", "-o", `${out}/render-auth/frame_####.png`, "--detach"], { encoding: "utf8",
      env: { ...process.env, UDCS_FARM: env("AUTH_URL"), UDCS_TOKEN_FILE: env("AUTH_TOKEN_FILE") } }).trim();
    await p.goto(`${authBase}/#/jobs/${id}`);
    await p.waitForSelector("#view[data-loaded]");
    await p.waitForFunction(() => [...document.querySelectorAll(".thumbs img")].filter((i) => i.complete && i.naturalWidth === 48).length === 2);
    return p.evaluate(() => [...document.querySelectorAll(".thumbs img")].every((i) => i.src.startsWith("blob:")));
  });
  await ctx.close();
}

ok(foreign.length === 0, "the page requested nothing outside the master", foreign.join("\n"));
ok(pageErrors.length === 0, "no script error on the page", pageErrors.join("\n"));
await browser.close();
process.exitCode = failed ? 1 : 0;

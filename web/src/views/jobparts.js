// web/src/views/jobparts.js - pieces the queue and the job page share: the units-by-state
// line, the progress bar, the ETA, and the cancel / retry / priority controls.
import { NONE, duration, h, num } from "../format.js";
import { runAction } from "../ui.js";

export const UNIT_STATES = ["waiting", "queued", "running", "done", "failed", "cancelled"];
export const JOB_STATES = ["running", "done", "failed", "cancelled"];

export function progressBar(j) {
  const total = j.units_total || 0;
  const u = j.units || {};
  const bar = h("div.progress", { title: `${num(u.done)} of ${num(total)} done`, dataset: { k: "progress" } });
  for (const s of ["done", "running", "failed", "cancelled"]) {
    if (!total || !u[s]) continue;
    bar.append(h(`span.seg.${s}`, { style: `width:${(100 * u[s]) / total}%` }));
  }
  bar.append(h("span.label", { text: `${num(u.done)} / ${num(total)}` }));
  return bar;
}

export function unitCounts(j) {
  const u = j.units || {};
  return h("span.counts", {}, UNIT_STATES.filter((s) => u[s]).map((s) =>
    h(`span.count.${s}`, { dataset: { k: `units.${s}` }, title: s, text: `${num(u[s])} ${s}` })));
}

/* Remaining time at the rate so far: done units since the job was created. The master's
 * numbers only; none while nothing has finished or once the job has ended. */
export function eta(j, nowMs) {
  const done = j.units?.done || 0;
  const left = (j.units_total || 0) - done - (j.units?.failed || 0) - (j.units?.cancelled || 0);
  if (j.state !== "running" || !done || left <= 0 || !j.created_ms) return NONE;
  const elapsed = nowMs - j.created_ms;
  return elapsed > 0 ? duration((elapsed / done) * left) : NONE;
}

/* Cancel, retry failed units, and change the priority; `after` re-reads the job. */
export function jobActions(j, after) {
  const running = j.state === "running";
  const pri = h("select.priority", { dataset: { action: "priority" }, title: "priority (10 runs first)" },
    Array.from({ length: 10 }, (_, i) => h("option", { value: String(i + 1), text: String(i + 1), selected: j.priority === i + 1 })));
  pri.addEventListener("change", async () => {
    const r = await runAction(`job ${j.id} priority`, "POST", `/api/jobs/${j.id}/priority`, { priority: Number(pri.value) });
    if (!r) pri.value = String(j.priority);
    after();
  });
  let armed = false;
  const cancel = h("button.small.danger", { type: "button", dataset: { action: "cancel" }, text: "Cancel",
    disabled: !running,
    onclick: async () => {
      // Two clicks, no window.confirm(): the first arms the button.
      if (!armed) {
        armed = true;
        cancel.textContent = "Cancel job?";
        return;
      }
      const done = await runAction(`cancel job ${j.id}`, "DELETE", `/api/jobs/${j.id}`);
      armed = false; // refused or not, the next try starts from the first click again
      cancel.textContent = "Cancel";
      if (done) after();
    } });
  // The master retries a failed job only (409 otherwise).
  const retry = j.state === "failed" ? h("button.small", { type: "button", dataset: { action: "retry" }, text: "Retry failed",
    onclick: async () => {
      const r = await runAction(`retry job ${j.id}`, "POST", `/api/jobs/${j.id}/retry`);
      if (r) after();
    } }) : null;
  return h("span.actions", {}, pri, cancel, retry);
}

/* jobActions() kept per job while what they show is unchanged, so that the progress
 * events re-rendering a row or a head do not reset an armed Cancel or an open select. */
export function actionsCache(after) {
  const kept = new Map();
  return (j) => {
    const key = `${j.state}|${j.priority}`;
    const k = kept.get(j.id);
    if (k && k.key === key) return k.el;
    const el = jobActions(j, after);
    kept.set(j.id, { key, el });
    return el;
  };
}

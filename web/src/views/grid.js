// web/src/views/grid.js - a job's units as one canvas, a cell per unit coloured by its
// state letter (w q l d c f x, as /api/jobs/{id}/grid sends them). One canvas rather than
// an element per unit: 100,000 units stay one draw call per cell and no DOM to lay out.

export const LETTERS = { w: "waiting", q: "queued", l: "running", d: "done", c: "cached", f: "failed", x: "cancelled" };
const MAX_CELL_PX = 18;
const MIN_CELL_PX = 3;
/* The grid's height budget before cells shrink to their minimum. */
const TARGET_HEIGHT_PX = 480;

export function unitGrid(parent, states, onPick) {
  const canvas = document.createElement("canvas");
  canvas.className = "grid";
  parent.append(canvas);
  const cells = states.split("");
  // Units per letter, kept as cells change: a busy job sends a thousand events a second,
  // and counting 100,000 cells for each would leave the page behind.
  const tally = Object.fromEntries(Object.keys(LETTERS).map((l) => [l, 0]));
  for (const l of cells) if (l in tally) tally[l]++;
  let cell = MIN_CELL_PX;
  let cols = 1;
  let colors = {};

  function readColors() {
    const cs = getComputedStyle(document.documentElement);
    colors = Object.fromEntries(Object.keys(LETTERS).map((l) => [l, cs.getPropertyValue(`--u-${l}`).trim()]));
  }

  function layout() {
    const width = Math.max(parent.clientWidth, 200);
    const n = Math.max(cells.length, 1);
    cell = Math.floor(Math.sqrt((width * TARGET_HEIGHT_PX) / n));
    cell = Math.max(MIN_CELL_PX, Math.min(MAX_CELL_PX, cell));
    cols = Math.max(1, Math.floor(width / cell));
    const rows = Math.ceil(n / cols);
    const dpr = window.devicePixelRatio || 1;
    canvas.dataset.cellPx = String(cell); // where a cell is, for the tests
    canvas.dataset.cols = String(cols);
    canvas.style.width = `${cols * cell}px`;
    canvas.style.height = `${rows * cell}px`;
    canvas.width = Math.round(cols * cell * dpr);
    canvas.height = Math.round(rows * cell * dpr);
    const ctx = canvas.getContext("2d");
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    readColors();
    drawAll(ctx);
  }

  function paint(ctx, i) {
    const gap = cell > 4 ? 1 : 0;
    ctx.fillStyle = colors[cells[i]] || "transparent";
    ctx.fillRect((i % cols) * cell, Math.floor(i / cols) * cell, cell - gap, cell - gap);
  }

  function drawAll(ctx) {
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    // Cells of one colour together: one fillStyle change per state, not per cell.
    for (const l of Object.keys(LETTERS)) {
      ctx.fillStyle = colors[l];
      const gap = cell > 4 ? 1 : 0;
      for (let i = 0; i < cells.length; i++) {
        if (cells[i] === l) ctx.fillRect((i % cols) * cell, Math.floor(i / cols) * cell, cell - gap, cell - gap);
      }
    }
  }

  canvas.addEventListener("click", (ev) => {
    const r = canvas.getBoundingClientRect();
    const i = Math.floor((ev.clientY - r.top) / cell) * cols + Math.floor((ev.clientX - r.left) / cell);
    if (i >= 0 && i < cells.length) onPick(i);
  });
  const ro = new ResizeObserver(() => layout());
  ro.observe(parent);
  layout();

  return {
    canvas,
    /* Set unit i's letter; returns the letter it had. */
    set(i, letter) {
      const old = cells[i];
      if (i < 0 || i >= cells.length || old === letter) return old;
      cells[i] = letter;
      if (old in tally) tally[old]--;
      if (letter in tally) tally[letter]++;
      paint(canvas.getContext("2d"), i);
      return old;
    },
    /* Units per letter (a copy). */
    counts() {
      return { ...tally };
    },
    redraw: layout,
    destroy() {
      ro.disconnect();
    },
  };
}

// web/build.mjs - bundle the dashboard into the files udcs-farm serves: OUT/index.html,
// OUT/app.js (src/main.js and uPlot, minified, one IIFE) and OUT/app.css (src/style.css
// and uPlot's stylesheet). Usage: node web/build.mjs OUT (default: build/web beside web/).
// Paths come from this file's location, so it runs from any working directory.
import * as esbuild from "esbuild";
import { copyFileSync, mkdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { resolve } from "node:path";

const src = (name) => fileURLToPath(new URL(`./src/${name}`, import.meta.url));
const out = resolve(process.argv[2] || fileURLToPath(new URL("../build/web", import.meta.url)));
mkdirSync(out, { recursive: true });

await esbuild.build({
  entryPoints: { app: src("main.js") },
  bundle: true,
  minify: true,
  sourcemap: "linked",
  format: "iife",
  // Debian 12's Chromium and any browser of the last few years; no transpiling beyond that.
  target: ["chrome100", "firefox100", "safari15"],
  outdir: out,
  logLevel: "warning",
});
copyFileSync(src("index.html"), `${out}/index.html`);

// Bundle the demo's two pages into dist/, with the SDK taken from its
// sources, so that a change to the SDK shows in the demo without a release,
// and give each bundle the debug ID its source map carries.
//
// Usage: node build.mjs

import { execFileSync } from "node:child_process";
import { copyFile, mkdir, rm } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { SentryCli } from "@sentry/cli";
import { build } from "esbuild";

const here = (path) => fileURLToPath(new URL(path, import.meta.url));
const sdk = (path) => here(`../../js-sdk/src/${path}`);
const out = here("dist/");

await rm(out, { recursive: true, force: true });
await build({
  entryPoints: [here("src/main.ts"), here("src/qa.ts")],
  outdir: out,
  bundle: true,
  format: "esm",
  minify: true,
  sourcemap: "linked",
  target: "es2022",
  alias: {
    hiccup: sdk("index.ts"),
    "hiccup/copy/fr": sdk("copy/fr.generated.ts"),
    "hiccup/reporters": sdk("reporters/index.ts"),
  },
});
// Each bundle and its map get the same debug ID, by which Sentry matches a
// stack trace to the map it was uploaded with. It needs no account and no
// network; uploading is a separate step (see demo-app/README.md).
execFileSync(SentryCli.getPath(), ["sourcemaps", "inject", out], { stdio: "ignore" });
await mkdir(out, { recursive: true });
for (const page of ["index.html", "qa.html", "styles.css"]) {
  await copyFile(here(`src/${page}`), `${out}${page}`);
}

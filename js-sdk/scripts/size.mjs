// Print the min+gzip size of what an app bundles from this package, beside
// ky and axios bundled the same way in the same run, and fail when a part
// goes over its budget.
//
// Usage: node scripts/size.mjs   (after `npm run build`; reads dist/)

import { readdirSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { build } from "esbuild";

const KB = 1024;

// What an app imports, the budget it must fit in (bytes, min+gzip), and why.
const ENTRIES = [
  {
    name: "core client",
    code: 'export { createClient, HiccupError, isHiccupError } from "./dist/index.js";',
    budget: 5 * KB,
  },
  // The copy is the contract's data, not code: it grows with every code a
  // writer adds and with every locale, so it is measured on its own below
  // rather than held to a budget meant for the code.
  {
    name: "client + modal, without copy",
    code: 'export { createClient, describe, showFailureModal } from "./dist/index.js";',
    external: ["./copy/*"],
    budget: 10 * KB,
  },
  {
    name: "client + modal + source-locale copy",
    code: 'export { createClient, describe, showFailureModal } from "./dist/index.js";',
  },
  { name: "describe + source-locale copy", code: 'export { describe } from "./dist/index.js";' },
  {
    name: "react bindings (react itself excluded)",
    code: 'export * from "./dist/react/index.js";',
    external: ["react", "react-dom", "react/jsx-runtime"],
  },
  { name: "reporters", code: 'export * from "./dist/reporters/index.js";' },
  ...readdirSync(new URL("../dist/copy/", import.meta.url))
    .filter((file) => file.endsWith(".generated.js"))
    .map((file) => ({
      name: `copy of "${file.replace(".generated.js", "")}"`,
      code: `export * from "./dist/copy/${file}";`,
    })),
  { name: "ky", code: 'export { default } from "ky";', reference: true },
  { name: "axios", code: 'export { default } from "axios";', reference: true },
];

async function measure(entry) {
  const result = await build({
    stdin: { contents: entry.code, resolveDir: new URL("..", import.meta.url).pathname },
    bundle: true,
    minify: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    external: entry.external ?? [],
    write: false,
    logLevel: "silent",
  });
  const text = result.outputFiles[0].contents;

  return { minified: text.length, gzipped: gzipSync(text, { level: 9 }).length };
}

const rows = [];
for (const entry of ENTRIES) {
  rows.push({ ...entry, ...(await measure(entry)) });
}

const width = Math.max(...rows.map((row) => row.name.length));
const kb = (bytes) => `${(bytes / KB).toFixed(2)} KB`.padStart(9);
console.log(`${"bundle".padEnd(width)}  ${"min".padStart(9)}  ${"min+gzip".padStart(9)}  budget`);
let over = 0;
for (const row of rows) {
  const verdict =
    row.budget === undefined
      ? row.reference
        ? "(for comparison)"
        : ""
      : row.gzipped <= row.budget
        ? `<= ${kb(row.budget).trim()}: ok`
        : `<= ${kb(row.budget).trim()}: OVER`;
  if (row.budget !== undefined && row.gzipped > row.budget) {
    over++;
  }
  console.log(`${row.name.padEnd(width)}  ${kb(row.minified)}  ${kb(row.gzipped)}  ${verdict}`);
}

if (over > 0) {
  console.error(`${over} bundle(s) over budget.`);
  process.exit(1);
}

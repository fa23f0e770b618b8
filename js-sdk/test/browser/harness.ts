import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { relative, resolve } from "node:path";
import type { AxeResults, RunOptions } from "axe-core";
import { build } from "esbuild";
import { type Browser, chromium, type Page } from "playwright-core";
import type * as Sdk from "../../src/index.js";
import { reply, type Script, type Seen, serve } from "../server/harness.js";

declare global {
  interface Window {
    /** The SDK, as the test page imported it from the bundle. */
    hiccup: typeof Sdk;
    /** axe-core, once a test has injected it. */
    axe: { run(context: Document, options: RunOptions): Promise<AxeResults> };
    /** How many times the page's own button ran its click handler. */
    saves?: number;
  }
}

// Switches that keep Chromium from calling home or updating itself while
// the tests run: its only traffic is then the test servers'.
const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
  "--disable-quic",
];

/**
 * Return the path of the Chromium to drive: `chromium` on the PATH, else
 * the `HICCUP_CHROMIUM` environment variable.
 *
 * @throws Error when neither names one, saying what to install: these
 *   tests must fail rather than pass unseen on a machine without a browser.
 */
export function chromiumPath(): string {
  try {
    return execFileSync("which", ["chromium"], { encoding: "utf8" }).trim();
  } catch {
    // Not on the PATH: the environment may still name one.
  }
  const named = process.env["HICCUP_CHROMIUM"];
  if (named !== undefined && named !== "") {
    return named;
  }

  throw new Error(
    "The browser tests need Chromium, and there is no `chromium` on the PATH. " +
      "Install the Debian package `chromium` (apt-get install chromium), or set " +
      "HICCUP_CHROMIUM to the path of a Chromium executable.",
  );
}

/** Start Chromium headless, with no sandbox and none of its own traffic. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: chromiumPath(), args: CHROMIUM_ARGS });
}

/**
 * Bundle the SDK for the browser, in memory: `/hiccup.js` is the package's
 * entry point and `/copy/fr.js` its French copy, keyed by the path the test
 * site serves each at.
 */
export async function bundleSdk(): Promise<ReadonlyMap<string, string>> {
  const outdir = resolve("browser-bundle");
  const result = await build({
    entryPoints: { hiccup: "src/index.ts", "copy/fr": "src/copy/fr.generated.ts" },
    bundle: true,
    format: "esm",
    platform: "browser",
    outdir,
    write: false,
    logLevel: "silent",
  });

  return new Map(
    result.outputFiles.map((file) => [`/${relative(outdir, file.path)}`, file.text] as const),
  );
}

/** Return the source of axe-core, to inject into a page. */
export function axeSource(): string {
  const require = createRequire(import.meta.url);

  return readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");
}

/** The label of the test page's own button, which sends its requests. */
export const SAVE_LABEL = "Save draft";

// A page an app could have: a landmark, a heading and one button.
const PAGE = `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>Drafts</title>
  </head>
  <body>
    <main>
      <h1>Drafts</h1>
      <button id="save" type="button">${SAVE_LABEL}</button>
    </main>
  </body>
</html>
`;

/** The test page and the SDK, served over HTTP, with API routes a test scripts. */
export interface Site {
  readonly url: string;
  /**
   * Answer requests for `path` (whatever their query) by `script`, which
   * counts from 0 for each route, and return the requests it receives.
   */
  route(path: string, script: Script): readonly Seen[];
  /** Forget every route. */
  reset(): void;
  close(): Promise<void>;
}

/** Serve the test page at `/`, `files` at their paths, and scripted routes. */
export async function serveSite(files: ReadonlyMap<string, string>): Promise<Site> {
  const routes = new Map<string, { readonly script: Script; readonly seen: Seen[] }>();
  const server = await serve((_index, seen, response) => {
    const path = new URL(seen.path, "http://site.invalid").pathname;
    const route = routes.get(path);
    const file = files.get(path);

    if (route !== undefined) {
      route.seen.push(seen);
      route.script(route.seen.length - 1, seen, response);
    } else if (path === "/") {
      reply(response, 200, PAGE, { "Content-Type": "text/html; charset=utf-8" });
    } else if (file !== undefined) {
      reply(response, 200, file, { "Content-Type": "text/javascript; charset=utf-8" });
    } else {
      reply(response, 404);
    }
  });

  return {
    url: server.url,
    route(path, script) {
      const seen: Seen[] = [];
      routes.set(path, { script, seen });

      return seen;
    },
    reset: () => routes.clear(),
    close: () => server.close(),
  };
}

// Imports the SDK as an app would, with its French copy registered.
const LOADER = `
import * as hiccup from "/hiccup.js";
import { copy } from "/copy/fr.js";
hiccup.registerCopy(copy);
window.hiccup = hiccup;
`;

// Long enough for anything these tests wait for; short enough that a
// failing wait fails the test well before vitest's own timeout.
const WAIT_MS = 5000;

/**
 * Open the test page of `site` in a new context of `browser`, with the SDK
 * loaded as `window.hiccup`. Close the page's context when done with it.
 */
export async function openPage(browser: Browser, site: Site): Promise<Page> {
  const context = await browser.newContext();
  context.setDefaultTimeout(WAIT_MS);
  const page = await context.newPage();

  await page.goto(site.url);
  await page.addScriptTag({ type: "module", content: LOADER });
  await page.waitForFunction(() => window.hiccup !== undefined);

  return page;
}

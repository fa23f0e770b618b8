import type { Browser, Page } from "playwright-core";
import {
  afterAll,
  afterEach,
  beforeAll,
  beforeEach,
  expect,
  describe as group,
  test,
} from "vitest";
import type { ClientOptions } from "../../src/index.js";
import { reply, serve, type TestServer } from "../server/harness.js";
import { codeWords } from "../support/contract.js";
import { bundleSdk, launchChromium, openPage, type Site, serveSite } from "./harness.js";

let browser: Browser;
let site: Site;
// Answers without any CORS header, so the page's requests to it are blocked.
let foreign: TestServer;
let foreignSeen: number;
let page: Page;

beforeAll(async () => {
  site = await serveSite(await bundleSdk());
  foreign = await serve((_index, _seen, response) =>
    reply(response, 200, "{}", { "Content-Type": "application/json" }),
  );
  browser = await launchChromium();
}, 30_000);

afterAll(async () => {
  await browser?.close();
  await site?.close();
  await foreign?.close();
});

beforeEach(async () => {
  foreignSeen = foreign.seen.length;
  page = await openPage(browser, site);
});

afterEach(async () => {
  await page.context().close();
  site.reset();
});

/** The settings of a client that survive the trip into the page. */
type Settings = Pick<ClientOptions, "retry">;

/** How a request made in the page failed. */
interface Failure {
  readonly name: string;
  readonly code: string;
  readonly category: string;
  readonly status: number;
  /** The English title `describe` gives it. */
  readonly title: string;
}

/** Send a GET for `url` from the page, and return how it failed. */
function failureOf(url: string, settings: Settings): Promise<Failure> {
  return page.evaluate(
    async ({ url, settings }) => {
      const { createClient, describe, isHiccupError } = window.hiccup;
      try {
        await createClient(settings).json(url);
      } catch (error: unknown) {
        if (isHiccupError(error)) {
          const { name, code, category, status } = error;
          return { name, code, category, status, title: describe(error, "en").title };
        }
        throw error;
      }
      throw new Error(`GET ${url} succeeded`);
    },
    { url, settings },
  );
}

/** Send a GET for `path` from the page, and return the status it resolved with. */
function statusOf(path: string, settings: Settings): Promise<number> {
  return page.evaluate(
    async ({ path, settings }) => (await window.hiccup.createClient(settings).request(path)).status,
    { path, settings },
  );
}

group("a request CORS blocks", () => {
  test("rejects as the network being offline, with that code's copy", async () => {
    const failure = await failureOf(`${foreign.url}/drafts`, { retry: false });

    expect(failure).toEqual({
      name: "NetworkError",
      code: "NETWORK_OFFLINE",
      category: "network",
      status: 0,
      title: codeWords("NETWORK_OFFLINE").title,
    });
  });

  test("is retried, as the browser reports it like a dropped connection", async () => {
    await failureOf(`${foreign.url}/drafts`, { retry: { baseMs: 1, limit: 1 } });

    // The traceparent header makes each attempt a preflighted request: what
    // the foreign server sees, and refuses by its silence, is the preflight.
    const seen = foreign.seen.slice(foreignSeen);
    expect(seen.map((entry) => `${entry.method} ${entry.path}`)).toEqual([
      "OPTIONS /drafts",
      "OPTIONS /drafts",
    ]);
  });
});

group("a dropped connection", () => {
  test("rejects as the network being offline", async () => {
    site.route("/drafts", (_index, _seen, response) => response.socket?.destroy());

    const failure = await failureOf("/drafts", { retry: false });

    expect([failure.name, failure.code, failure.category]).toEqual([
      "NetworkError",
      "NETWORK_OFFLINE",
      "network",
    ]);
  });
});

group("a 503 with Retry-After", () => {
  test("is retried once, no sooner than the server asked", async () => {
    const seen = site.route("/drafts", (index, _seen, response) =>
      index === 0 ? reply(response, 503, "", { "Retry-After": "1" }) : reply(response, 200, "{}"),
    );

    const status = await statusOf("/drafts", { retry: { baseMs: 1 } });

    expect(status).toBe(200);
    expect(seen).toHaveLength(2);
    const [first, second] = seen;
    expect((second?.at ?? 0) - (first?.at ?? 0)).toBeGreaterThanOrEqual(1000);
  });
});

group("every attempt", () => {
  test("carries the operation's trace id and a span id of its own", async () => {
    const seen = site.route("/drafts", (index, _seen, response) =>
      index === 0 ? reply(response, 503) : reply(response, 200, "{}"),
    );

    await statusOf("/drafts", { retry: { baseMs: 1 } });

    const parents = seen.map((entry) => String(entry.headers["traceparent"]).split("-"));
    expect(parents.map((parts) => parts.length)).toEqual([4, 4]);
    expect(new Set(parents.map(([, traceId]) => traceId)).size).toBe(1);
    expect(new Set(parents.map(([, , spanId]) => spanId)).size).toBe(2);
  });
});

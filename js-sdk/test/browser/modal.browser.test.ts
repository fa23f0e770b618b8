import type { ServerResponse } from "node:http";
import type { Browser, Locator, Page } from "playwright-core";
import {
  afterAll,
  afterEach,
  beforeAll,
  beforeEach,
  expect,
  describe as group,
  test,
} from "vitest";
import type { ClientOptions, RequestOptions } from "../../src/index.js";
import { reply, type Seen } from "../server/harness.js";
import {
  type CopyChoice,
  codeEntry,
  codeWords,
  longestCopy,
  renderCopy,
  sendCode,
  uiWord,
} from "../support/contract.js";
import {
  axeSource,
  bundleSdk,
  launchChromium,
  openPage,
  SAVE_LABEL,
  type Site,
  serveSite,
} from "./harness.js";

let browser: Browser;
let site: Site;
let page: Page;

beforeAll(async () => {
  site = await serveSite(await bundleSdk());
  browser = await launchChromium();
}, 30_000);

afterAll(async () => {
  await browser?.close();
  await site?.close();
});

beforeEach(async () => {
  page = await openPage(browser, site);
});

afterEach(async () => {
  await page.context().close();
  site.reset();
});

// As long as the IDs real servers send, so that the layout is tested with one.
const REQUEST_ID = "req-3f9d2c7a-5b1e-4f08-9c6d-2a7e1b0c4d95";

/** Answer as a proxy does when the app behind it fails: an HTML 502. */
function badGateway(_index: number, _seen: Seen, response: ServerResponse): void {
  reply(response, 502, "<html><body><h1>502 Bad Gateway</h1></body></html>", {
    "Content-Type": "text/html",
    "X-Request-ID": REQUEST_ID,
  });
}

/** Fail the first request as `badGateway` does, and answer the later ones. */
function badGatewayOnce(index: number, seen: Seen, response: ServerResponse): void {
  if (index === 0) {
    badGateway(index, seen, response);
  } else {
    reply(response, 200, "{}", { "Content-Type": "application/json" });
  }
}

/** How the page's button sends its request; what survives the trip into the page. */
interface Send {
  readonly client?: Pick<ClientOptions, "retry" | "locale">;
  readonly request?: Pick<RequestOptions, "method" | "idempotencyKey">;
}

// A client with the default retries, whose longest silent wait is shorter
// than the maintenance the contract announces: that failure reaches the
// modal at once, with the whole wait still ahead.
const DEFAULT_CLIENT: Send["client"] = {};

/**
 * Wire the page's button as an app would: it sends a request for `path`
 * and shows the failure modal when that fails. Then click it, and return
 * the dialog once it is open.
 */
async function failureModal(path: string, send: Send = {}): Promise<Locator> {
  const client = send.client ?? { retry: false };
  await page.evaluate(
    ({ path, client, request }) => {
      const api = window.hiccup.createClient(client);
      document.getElementById("save")?.addEventListener("click", () => {
        window.saves = (window.saves ?? 0) + 1;
        api.json(path, request).catch((error: unknown) => window.hiccup.showFailureModal(error));
      });
    },
    { path, client, request: send.request ?? {} },
  );

  await page.click("#save");
  const dialog = page.locator('hiccup-modal [role="alertdialog"]');
  await dialog.waitFor();
  // Measure and audit the dialog as it rests, not halfway through fading in.
  await dialog.evaluate((node) => Promise.all(node.getAnimations().map((a) => a.finished)));

  return dialog;
}

/** Return the dialog's button labelled `name`. */
function button(dialog: Locator, name: string): Locator {
  return dialog.getByRole("button", { name, exact: true });
}

/** Return the labels of the dialog's buttons a user can see, in order. */
function labelsOf(dialog: Locator): Promise<string[]> {
  return dialog.getByRole("button").allTextContents();
}

/** Return the label of the element that has focus, looking into shadow roots. */
function focusedLabel(): Promise<string> {
  return page.evaluate(() => {
    let active = document.activeElement;
    while (active?.shadowRoot?.activeElement) {
      active = active.shadowRoot.activeElement;
    }

    return active?.textContent ?? "";
  });
}

/** Press `key` `times` times, and return the label focused after each press. */
async function focusAfter(key: string, times: number): Promise<string[]> {
  const labels: string[] = [];
  for (let press = 0; press < times; press++) {
    await page.keyboard.press(key);
    labels.push(await focusedLabel());
  }

  return labels;
}

/** The label of "Try again" for `code`: the code's action, else the dialog's own word. */
function retryLabel(code: string, locale = "en"): string {
  return codeWords(code, locale).action ?? uiWord("retry", locale);
}

/** The labels of the dialog's buttons for `code`, in order: copy, close, Try again. */
function buttonLabels(code: string): readonly [string, string, string] {
  return [uiWord("copy_reference"), uiWord("close"), retryLabel(code)];
}

/** Return where `locator` is drawn, failing when it is not drawn at all. */
async function boxOf(
  locator: Locator,
): Promise<{ x: number; y: number; right: number; bottom: number }> {
  const box = await locator.boundingBox();
  if (box === null) {
    throw new Error(`${locator} is not drawn`);
  }

  return { x: box.x, y: box.y, right: box.x + box.width, bottom: box.y + box.height };
}

function backgroundOf(dialog: Locator): Promise<string> {
  return dialog.evaluate((node) => getComputedStyle(node).backgroundColor);
}

function animationOf(dialog: Locator): Promise<string> {
  return dialog.evaluate((node) => getComputedStyle(node).animationName);
}

group("the failure modal", () => {
  test.each(["light", "dark"] as const)(
    "has no axe-core violations in the %s colour scheme",
    async (colorScheme) => {
      await page.emulateMedia({ colorScheme });
      site.route("/drafts", badGateway);
      await failureModal("/drafts");
      await page.addScriptTag({ content: axeSource() });

      const violations = await page.evaluate(async () => {
        const results = await window.axe.run(document, { resultTypes: ["violations"] });

        return results.violations.map(
          (rule) =>
            `${rule.id}: ${rule.help} at ${JSON.stringify(rule.nodes.map((n) => n.target))}`,
        );
      });

      expect(violations).toEqual([]);
    },
  );

  test("puts focus on Try again when the user may retry", async () => {
    site.route("/drafts", badGateway);
    await failureModal("/drafts");

    expect(await focusedLabel()).toBe(retryLabel("UPSTREAM_ERROR"));
  });

  test("keeps Tab among its buttons, wrapping from the last to the first", async () => {
    site.route("/drafts", badGateway);
    await failureModal("/drafts");

    const labels = await focusAfter("Tab", 4);

    const [copy, close, retry] = buttonLabels("UPSTREAM_ERROR");
    expect(labels).toEqual([copy, close, retry, copy]);
  });

  test("keeps Shift+Tab among its buttons, wrapping from the first to the last", async () => {
    site.route("/drafts", badGateway);
    await failureModal("/drafts");

    const labels = await focusAfter("Shift+Tab", 4);

    const [copy, close, retry] = buttonLabels("UPSTREAM_ERROR");
    expect(labels).toEqual([close, copy, retry, close]);
  });

  test("lets no click through to the page's button behind it", async () => {
    site.route("/drafts", badGateway);
    await failureModal("/drafts");
    const box = await boxOf(page.locator("#save"));

    await page.mouse.click((box.x + box.right) / 2, (box.y + box.bottom) / 2);

    expect(await page.evaluate(() => window.saves)).toBe(1);
  });

  test("closes on Escape", async () => {
    site.route("/drafts", badGateway);
    await failureModal("/drafts");

    await page.keyboard.press("Escape");

    expect(await page.locator("hiccup-modal").count()).toBe(0);
  });

  test("gives focus back, once closed, to the button that sent the request", async () => {
    site.route("/drafts", badGateway);
    await failureModal("/drafts");

    await page.keyboard.press("Escape");

    expect(await focusedLabel()).toBe(SAVE_LABEL);
  });

  test("sends the request again on Try again, with the same Idempotency-Key", async () => {
    const seen = site.route("/drafts", badGatewayOnce);
    const dialog = await failureModal("/drafts", {
      request: { method: "POST", idempotencyKey: true },
    });

    await button(dialog, retryLabel("UPSTREAM_ERROR")).click();
    await expect.poll(() => seen.length).toBe(2);

    const keys = seen.map((entry) => entry.headers["idempotency-key"]);
    expect(keys[0]).toMatch(/^[0-9a-f-]{32,36}$/);
    expect(keys[1]).toBe(keys[0]);
  });

  test("closes once Try again has succeeded", async () => {
    site.route("/drafts", badGatewayOnce);
    const dialog = await failureModal("/drafts");

    await button(dialog, retryLabel("UPSTREAM_ERROR")).click();

    await expect.poll(() => page.locator("hiccup-modal").count()).toBe(0);
  });

  const longest: readonly { readonly name: string; readonly choice: CopyChoice }[] = [
    { name: "the longest copy", choice: longestCopy(() => true) },
    { name: "the longest copy that offers Try again", choice: longestCopy((e) => e.retry.user) },
  ];

  test.each(longest)("fits a 320 px wide screen with $name", async ({ choice }) => {
    await page.setViewportSize({ width: 320, height: 640 });
    site.route("/drafts", (_index, _seen, response) =>
      sendCode(response, choice.code, { request_id: REQUEST_ID }),
    );
    const dialog = await failureModal("/drafts", {
      client: { retry: false, locale: choice.locale },
    });

    const box = await boxOf(dialog);
    const buttons = await Promise.all(
      (await dialog.getByRole("button").all()).map(async (each) => ({
        label: await each.textContent(),
        box: await boxOf(each),
      })),
    );
    const scroll = await page.evaluate(() => {
      const { scrollWidth, clientWidth } = document.documentElement;
      return { scrollWidth, clientWidth };
    });

    const heading = dialog.getByRole("heading");
    const title = await boxOf(heading);

    expect(await heading.textContent()).toBe(codeWords(choice.code, choice.locale).title);
    // The buttons stay at the foot of a dialog that scrolls, so focusing
    // one scrolls nothing away: the title is still in view.
    expect([title.y >= 0, title.bottom <= 640]).toEqual([true, true]);
    expect([box.x >= 0, box.right <= 320]).toEqual([true, true]);
    expect(scroll.scrollWidth).toBeLessThanOrEqual(scroll.clientWidth);
    const cut = buttons.filter(
      ({ box }) => box.x < 0 || box.y < 0 || box.right > 320 || box.bottom > 640,
    );
    expect(cut.map(({ label }) => label)).toEqual([]);
  });

  test("takes a different background in the dark colour scheme", async () => {
    await page.emulateMedia({ colorScheme: "light" });
    site.route("/drafts", badGateway);
    const dialog = await failureModal("/drafts");
    const light = await backgroundOf(dialog);

    await page.emulateMedia({ colorScheme: "dark" });

    expect(await backgroundOf(dialog)).not.toBe(light);
  });

  test("drops its entrance animation when the user asks for reduced motion", async () => {
    await page.emulateMedia({ reducedMotion: "no-preference" });
    site.route("/drafts", badGateway);
    const dialog = await failureModal("/drafts");
    const moving = await animationOf(dialog);

    await page.emulateMedia({ reducedMotion: "reduce" });

    expect(moving).not.toBe("none");
    expect(await animationOf(dialog)).toBe("none");
  });

  test("shows markup in a param as text", async () => {
    const model = "<img src=x onerror=window.__pwned=1>";
    site.route("/drafts", (_index, _seen, response) =>
      sendCode(response, "MODEL_UNAVAILABLE", { params: { model } }),
    );
    const dialog = await failureModal("/drafts");

    expect(await dialog.getByRole("heading").textContent()).toBe(
      renderCopy(codeWords("MODEL_UNAVAILABLE").title ?? "", { model }),
    );
    expect(await dialog.locator("img").count()).toBe(0);
    expect(await page.evaluate(() => Reflect.has(window, "__pwned"))).toBe(false);
  });

  test("copies the request ID to the clipboard", async () => {
    await page.context().grantPermissions(["clipboard-read", "clipboard-write"], {
      origin: site.url,
    });
    site.route("/drafts", badGateway);
    const dialog = await failureModal("/drafts");

    await button(dialog, uiWord("copy_reference")).click();

    await expect.poll(() => page.evaluate(() => navigator.clipboard.readText())).toBe(REQUEST_ID);
  });

  test("says on the copy button that it copied", async () => {
    await page.context().grantPermissions(["clipboard-read", "clipboard-write"], {
      origin: site.url,
    });
    site.route("/drafts", badGateway);
    const dialog = await failureModal("/drafts");

    await button(dialog, uiWord("copy_reference")).click();

    const [, close, retry] = buttonLabels("UPSTREAM_ERROR");
    await expect.poll(() => labelsOf(dialog)).toEqual([uiWord("copied"), close, retry]);
  });

  test("disables Try again while the server asks to wait", async () => {
    site.route("/drafts", (_index, _seen, response) => sendCode(response, "MAINTENANCE"));
    const dialog = await failureModal("/drafts", { client: DEFAULT_CLIENT });

    const retry = button(dialog, retryLabel("MAINTENANCE"));

    expect(await retry.getAttribute("aria-disabled")).toBe("true");
  });

  test("says in its live region how many seconds the server asked to wait", async () => {
    site.route("/drafts", (_index, _seen, response) => sendCode(response, "MAINTENANCE"));
    const dialog = await failureModal("/drafts", { client: DEFAULT_CLIENT });

    const text = (await dialog.locator("[aria-live]").textContent()) ?? "";

    const seconds = Number(/\d+/.exec(text)?.[0]);
    expect(text).toBe(renderCopy(uiWord("wait"), { seconds }));
    // The contract's wait, give or take the seconds this test took to get here.
    const asked = (codeEntry("MAINTENANCE").retry.after_ms ?? 0) / 1000;
    expect(seconds).toBeLessThanOrEqual(asked);
    expect(seconds).toBeGreaterThan(asked - 10);
  });
});

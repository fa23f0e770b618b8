// The "Dashboard" section: four widgets from one request, each of which
// can fail on its own while the others still show.

import { type Category, codeSpec, formatCopy, isCode, type Locale, lookupCopy } from "hiccup";
import { text } from "./copy";
import { byId, isRecord, make } from "./dom";
import { perform, type Section, type Session } from "./setup";

const WIDGETS = ["usage", "drafts", "models", "tips"] as const;
type Widget = (typeof WIDGETS)[number];

/** A widget the server could not fill, from the body's `errors`. */
interface WidgetFailure {
  readonly component: string;
  readonly code: string;
  readonly status: number;
  readonly retry: { readonly auto: boolean; readonly user: boolean; readonly after_ms?: number };
}

/** The body of GET /api/dashboard. */
interface Dashboard {
  readonly results: Readonly<Partial<Record<Widget, unknown>>>;
  readonly errors: readonly WidgetFailure[];
}

/** The dashboard section, which the page also loads when it starts. */
export interface DashboardSection extends Section {
  load(): Promise<void>;
}

/** Wire the section up; `now` returns the page's current session. */
export function mountDashboard(now: () => Session): DashboardSection {
  const grid = byId("widgets", HTMLElement);
  let shown: Dashboard | undefined;

  async function load(): Promise<void> {
    grid.setAttribute("aria-busy", "true");
    try {
      shown = await now().client.json<Dashboard>("/api/dashboard");
      localize();
    } finally {
      grid.setAttribute("aria-busy", "false");
    }
  }

  function reload(): void {
    void perform(load, { locale: now().locale });
  }

  function localize(): void {
    if (shown !== undefined) {
      const dashboard = shown;
      grid.replaceChildren(...WIDGETS.map((name) => card(name, dashboard, now().locale, reload)));
    }
  }

  byId("dashboard-reload", HTMLButtonElement).addEventListener("click", reload);

  return { load, localize };
}

function card(name: Widget, dashboard: Dashboard, locale: Locale, reload: () => void): HTMLElement {
  const article = make("article");
  const heading = make("h3", text(locale, `widget.${name}`));
  const failure = dashboard.errors.find((error) => error.component === name);

  heading.id = `widget-${name}-title`;
  article.className = "widget";
  article.dataset["testid"] = `widget-${name}`;
  article.dataset["state"] = failure === undefined ? "ok" : "failed";
  article.setAttribute("aria-labelledby", heading.id);
  article.append(heading);
  if (failure === undefined) {
    article.append(values(dashboard.results[name], locale));
  } else {
    article.append(...failed(failure, locale, heading.id, reload));
  }

  return article;
}

/** Show a widget's result as a list of its fields, whatever they are. */
function values(result: unknown, locale: Locale): HTMLElement {
  const list = make("dl");

  for (const [name, value] of Object.entries(isRecord(result) ? result : {})) {
    list.append(make("dt", name), make("dd", shownValue(value, locale)));
  }

  return list;
}

function shownValue(value: unknown, locale: Locale): string {
  if (typeof value === "number") {
    return value.toLocaleString(locale);
  }

  return typeof value === "string" ? value : JSON.stringify(value);
}

/** Show the contract's words for a widget's failure, and "Try again" if allowed. */
function failed(
  failure: WidgetFailure,
  locale: Locale,
  labelledBy: string,
  reload: () => void,
): HTMLElement[] {
  // An unknown code still gets words: the generic ones of internal failures.
  const category: Category = isCode(failure.code) ? codeSpec(failure.code).category : "internal";
  const copy = lookupCopy(failure.code, locale, category);
  const parts: HTMLElement[] = [];

  if (copy?.title !== undefined) {
    const title = make("p", copy.title);
    title.className = "widget-error-title";
    parts.push(title);
  }
  parts.push(make("p", copy === undefined ? "" : formatCopy(copy.message, {}, locale)));
  if (failure.retry.user) {
    const again = make("button", text(locale, "widget.retry"));
    again.type = "button";
    again.setAttribute("aria-describedby", labelledBy);
    again.addEventListener("click", reload);
    parts.push(again);
  }

  return parts;
}

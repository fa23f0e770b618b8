// The QA panel: switch the demo server's faults on and off, and raise any
// code of the contract to see the failure modal a user would get for it.

import { CODES, type Reporter } from "hiccup";
import { byId, make } from "./dom";
import { chooseLocale, loadReporters, offerLocales, openSession, perform } from "./setup";

const SWITCHES = [
  "outage",
  "rate_limited",
  "overloaded",
  "safety_block",
  "context_too_long",
  "drop_connection",
  "mid_stream_error",
  "slow_dependency",
] as const;
const NUMBERS = ["latency_ms", "error_rate", "retry_after_s"] as const;

/** The server's fault switches, as /qa/faults answers with them. */
type Faults = Readonly<Record<string, unknown>>;

let reporters: readonly Reporter[] = [];
let session = openSession(chooseLocale(), reporters);

const form = byId("faults-form", HTMLFormElement);
const widget = byId("failing_widget", HTMLSelectElement);
const current = byId("faults-json", HTMLElement);
const code = byId("code", HTMLSelectElement);
const raised = byId("raise-status", HTMLElement);
// The modal goes in here, so that its lang can follow the words it shows
// while the panel itself stays in English.
const modalRoot = byId("modal-root", HTMLElement);

function show({ faults }: { readonly faults: Faults }): void {
  for (const name of SWITCHES) {
    byId(name, HTMLInputElement).checked = faults[name] === true;
  }
  for (const name of NUMBERS) {
    const value = faults[name];
    byId(name, HTMLInputElement).value = typeof value === "number" ? String(value) : "";
  }
  const failing = faults["failing_widget"];
  widget.value = typeof failing === "string" ? failing : "";
  current.textContent = JSON.stringify(faults, null, 2);
}

/** Read the form into the fields PUT /qa/faults changes; empty numbers stay as they are. */
function chosen(): Faults {
  const faults: Record<string, unknown> = {
    failing_widget: widget.value === "" ? null : widget.value,
  };

  for (const name of SWITCHES) {
    faults[name] = byId(name, HTMLInputElement).checked;
  }
  for (const name of NUMBERS) {
    const input = byId(name, HTMLInputElement);
    if (input.value !== "") {
      faults[name] = input.valueAsNumber;
    }
  }

  return faults;
}

function act(action: () => Promise<void>): void {
  modalRoot.lang = session.locale;
  void perform(action, { locale: session.locale, container: modalRoot });
}

async function load(): Promise<void> {
  show(await session.client.json<{ faults: Faults }>("/qa/faults"));
}

async function apply(): Promise<void> {
  show(
    await session.client.json<{ faults: Faults }>("/qa/faults", { method: "PUT", json: chosen() }),
  );
}

async function reset(): Promise<void> {
  show(await session.client.json<{ faults: Faults }>("/qa/faults/reset", { method: "POST" }));
}

async function raise(): Promise<void> {
  const path = `/api/codes/${encodeURIComponent(code.value)}`;

  raised.textContent = "";
  // Without retries, so that the modal opens at once for every code, even
  // those the SDK would quietly retry first.
  await session.client.request(path, { retry: false });
  raised.textContent = `GET ${path} answered without failing.`;
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  // The browser's own messages cover the numbers' ranges; the server checks
  // them again.
  if (form.reportValidity()) {
    act(apply);
  }
});
byId("reset", HTMLButtonElement).addEventListener("click", () => act(reset));
byId("raise-form", HTMLFormElement).addEventListener("submit", (event) => {
  event.preventDefault();
  act(raise);
});

code.replaceChildren(...Object.keys(CODES).map((name) => make("option", name)));
offerLocales(byId("locale", HTMLSelectElement), session.locale, (locale) => {
  session = openSession(locale, reporters);
});

reporters = await loadReporters();
session = openSession(session.locale, reporters);
act(load);

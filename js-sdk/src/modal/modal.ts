import { formatCopy, type UiCopy, uiCopy } from "../contract.js";
import { type Description, describe } from "../describe.js";
import { type HiccupError, isHiccupError } from "../errors/hiccup-error.js";
import { emit, type Reporter, reportersOf } from "../events.js";
import { element, makeOthersInert, wrapTab } from "./dom.js";
import { STYLES } from "./styles.js";

/**
 * Why the failure modal closed.
 *
 * - `close`: the user pressed its close button.
 * - `escape`: the user pressed Escape.
 * - `recovered`: "Try again" succeeded.
 * - `api`: the page called the handle's `close()`.
 */
export type FailureModalCloseReason = "close" | "escape" | "recovered" | "api";

/** How `showFailureModal` behaves; every option may be left out. */
export interface FailureModalOptions {
  /**
   * Run the failed operation again, when the user asks to. Defaults to the
   * error's `tryAgain`. When its promise resolves the modal closes as
   * recovered; when it rejects the modal shows that failure instead, unless
   * it is an `AbortError`, which only lets the user try again.
   */
  readonly onRetry?: () => Promise<unknown>;
  /** Called once the modal has closed, with the reason. */
  readonly onClose?: (reason: FailureModalCloseReason) => void;
  /** The element the modal's host goes into. Defaults to `document.body`. */
  readonly container?: HTMLElement;
  /** The language of the words. Defaults to what `describe` picks. */
  readonly locale?: string;
  /** Where the modal's events go, besides the reporters of the error's client. */
  readonly reporters?: readonly Reporter[];
}

/** Controls a failure modal that `showFailureModal` opened. */
export interface FailureModalHandle {
  /** The host element, which holds the dialog in an open shadow root. */
  readonly element: HTMLElement;
  /** Resolves with the reason, once the modal has closed. */
  readonly closed: Promise<FailureModalCloseReason>;
  /** Close the modal, with the reason `api`. Does nothing once it is closed. */
  close(): void;
  /** Show `error` in place of the current one. Does nothing once closed. */
  update(error: unknown): void;
}

/**
 * Show the user what went wrong, as an accessible modal dialog.
 *
 * The dialog holds the words `describe(error)` returns, the reference ID
 * support asks for (the request ID, else the trace ID) with a button that
 * copies it, and "Try again" when the error allows the user to retry and
 * there is an operation to retry (for a value that is not a HiccupError,
 * when `onRetry` is given). While the server asks callers to wait,
 * the button counts the seconds down.
 *
 * The page behind is inert while the dialog is open, focus stays inside it,
 * Escape closes it, and focus then returns where it was. The modal emits
 * `modal.shown` when it opens and `recovered` when "Try again" succeeds, to
 * the reporters of the client that raised the error and to `reporters`.
 * Both events carry a HiccupError, so a modal showing any other value
 * reports nothing.
 *
 * There is at most one modal on the page. Called while one is open, this
 * shows `error` in it and returns its handle: `onRetry` (or the new error's
 * `tryAgain`), `locale` and `reporters` of the new call replace the old
 * ones, both `onClose` are called, and the modal stays in its container.
 */
export function showFailureModal(
  error: unknown,
  options: FailureModalOptions = {},
): FailureModalHandle {
  if (shown === undefined) {
    shown = new FailureModal(error, options);
  } else {
    shown.adopt(error, options);
  }

  return shown.handle;
}

// How long the copy button says that it copied.
const COPIED_MS = 2000;
// The ids the dialog's aria-labelledby and aria-describedby refer to. A
// shadow root scopes ids, so these cannot clash with the page's.
const TITLE_ID = "title";
const MESSAGE_ID = "message";

// The modal on the page, if any.
let shown: FailureModal | undefined;

/** Everything the dialog shows for one failure. */
interface View {
  /** The failure, when it is one the SDK raised: only those are reported. */
  readonly error: HiccupError | undefined;
  readonly words: Description;
  readonly ui: UiCopy;
  readonly reference: string | undefined;
  /** What "Try again" runs; `undefined` when the button is not offered. */
  readonly retry: (() => Promise<unknown>) | undefined;
  /** When "Try again" may first be pressed, in milliseconds since the epoch. */
  readonly retryAt: number;
}

function present(error: unknown, options: FailureModalOptions): View {
  const known = isHiccupError(error) ? error : undefined;
  const words = describe(error, options.locale);
  // A HiccupError says whether the user may retry it. Anything else is
  // retried only by an onRetry of the caller's, who knows what it would do.
  const retry =
    known === undefined
      ? options.onRetry
      : known.retry.user
        ? (options.onRetry ?? known.tryAgain)
        : undefined;

  return {
    error: known,
    words,
    ui: uiCopy(words.locale),
    reference: known?.requestId ?? known?.traceId,
    retry,
    retryAt: known?.retryAt ?? 0,
  };
}

/** The dialog's elements whose content changes with the failure shown. */
interface Parts {
  readonly dialog: HTMLElement;
  readonly title: HTMLElement;
  readonly message: HTMLElement;
  readonly suggestions: HTMLElement;
  readonly reference: HTMLElement;
  readonly referenceLabel: HTMLElement;
  readonly referenceId: HTMLElement;
  readonly copy: HTMLButtonElement;
  readonly status: HTMLElement;
  readonly close: HTMLButtonElement;
  readonly retry: HTMLButtonElement;
}

function build(root: ShadowRoot): Parts {
  const parts: Parts = {
    dialog: element("div", { role: "alertdialog", "aria-modal": "true" }),
    title: element("h2", { id: TITLE_ID }),
    message: element("p", { id: MESSAGE_ID }),
    suggestions: element("ul"),
    reference: element("p", { class: "reference" }),
    referenceLabel: element("span"),
    referenceId: element("code"),
    copy: element("button", { type: "button" }),
    status: element("p", { "aria-live": "polite", "aria-atomic": "true" }),
    close: element("button", { type: "button" }),
    retry: element("button", { type: "button", class: "primary" }),
  };
  const actions = element("div", { class: "actions" });

  actions.append(parts.close, parts.retry);
  parts.reference.append(parts.referenceLabel, parts.referenceId, parts.copy);
  parts.dialog.append(
    parts.title,
    parts.message,
    parts.suggestions,
    parts.reference,
    parts.status,
    actions,
  );
  root.append(element("style", {}, STYLES), parts.dialog);

  return parts;
}

/**
 * One open failure modal: a `<div role="alertdialog">` over a page made
 * inert, in the shadow root of a host element.
 *
 * Not a `<dialog>` opened with `showModal()`, although that would make the
 * page inert by itself and put the dialog in the top layer: the test DOM
 * (happy-dom) implements `showModal()` as setting `open` and nothing else,
 * so neither inertness nor focus could be tested; and the browser, not the
 * modal, decides when Escape may close such a dialog. The `inert`
 * attribute, a focus trap and a host at the highest z-index behave alike
 * everywhere; what they lose is that another top-layer element of the page
 * (a popover, a `<dialog>` of its own) can cover the modal.
 *
 * The shadow root is open. It is there to keep the page's styles out, not
 * the page's scripts, which hold the handle anyway; and tests reach the
 * dialog through `element.shadowRoot`.
 */
class FailureModal {
  readonly handle: FailureModalHandle;
  readonly #host = document.createElement("hiccup-modal");
  readonly #root = this.#host.attachShadow({ mode: "open" });
  readonly #parts = build(this.#root);
  readonly #closeCallbacks: ((reason: FailureModalCloseReason) => void)[] = [];
  readonly #previousFocus = document.activeElement;
  readonly #restoreInert: () => void;
  #settle: (reason: FailureModalCloseReason) => void = () => {};
  #options: FailureModalOptions;
  #view: View;
  #busy = false;
  #isClosed = false;
  #countdown: ReturnType<typeof setTimeout> | undefined;
  #copiedReset: ReturnType<typeof setTimeout> | undefined;

  constructor(error: unknown, options: FailureModalOptions) {
    this.#options = options;
    this.#view = present(error, options);
    this.handle = {
      element: this.#host,
      closed: new Promise((resolve) => {
        this.#settle = resolve;
      }),
      close: () => this.#close("api"),
      update: (next) => this.#show(next),
    };
    if (options.onClose !== undefined) {
      this.#closeCallbacks.push(options.onClose);
    }
    this.#parts.retry.addEventListener("click", () => void this.#retry());
    this.#parts.copy.addEventListener("click", () => void this.#copyReference());
    this.#parts.close.addEventListener("click", () => this.#close("close"));

    this.#render();
    (options.container ?? document.body).append(this.#host);
    this.#restoreInert = makeOthersInert(this.#host);
    document.addEventListener("keydown", this.#onKeydown);
    this.#firstFocus().focus();
    this.#report("modal.shown", this.#view.error);
  }

  /** Show `error` as if the call with `options` had opened the modal. */
  adopt(error: unknown, options: FailureModalOptions): void {
    if (options.onClose !== undefined) {
      this.#closeCallbacks.push(options.onClose);
    }
    this.#options = options;
    this.#show(error);
  }

  #show(error: unknown): void {
    if (this.#isClosed) {
      return;
    }
    this.#view = present(error, this.#options);
    this.#render();

    // A button the new failure hides takes focus away with it.
    const active = this.#root.activeElement;
    if (active === null || active.closest("[hidden]") !== null) {
      this.#firstFocus().focus();
    }
  }

  #close(reason: FailureModalCloseReason): void {
    if (this.#isClosed) {
      return;
    }
    this.#isClosed = true;
    shown = undefined;
    clearTimeout(this.#countdown);
    clearTimeout(this.#copiedReset);
    document.removeEventListener("keydown", this.#onKeydown);
    this.#restoreInert();
    this.#host.remove();

    // Only now that the page is no longer inert can it take focus back.
    if (this.#previousFocus instanceof HTMLElement) {
      this.#previousFocus.focus();
    }
    this.#settle(reason);
    for (const onClose of this.#closeCallbacks) {
      onClose(reason);
    }
  }

  #firstFocus(): HTMLButtonElement {
    return this.#view.retry === undefined ? this.#parts.close : this.#parts.retry;
  }

  // On the document rather than the dialog, so that Escape still closes the
  // modal after a click on its backdrop has moved focus to the body.
  readonly #onKeydown = (event: KeyboardEvent): void => {
    if (event.key === "Escape") {
      event.preventDefault();
      this.#close("escape");
    } else if (event.key === "Tab") {
      const buttons = Array.from(this.#root.querySelectorAll("button"));
      const visible = buttons.filter((button) => button.closest("[hidden]") === null);
      wrapTab(event, visible, this.#root.activeElement);
    }
  };

  #render(): void {
    const { words, ui, reference, retry } = this.#view;
    const { dialog, title, message, suggestions } = this.#parts;

    title.textContent = words.title;
    title.hidden = words.title === "";
    message.textContent = words.message;
    // Untitled copy names the dialog by its message, which then need not
    // describe it a second time.
    dialog.setAttribute("aria-labelledby", title.hidden ? MESSAGE_ID : TITLE_ID);
    setOrRemove(dialog, "aria-describedby", title.hidden ? undefined : MESSAGE_ID);
    suggestions.replaceChildren(...words.suggestions.map((text) => element("li", {}, text)));
    suggestions.hidden = words.suggestions.length === 0;

    this.#parts.reference.hidden = reference === undefined;
    this.#parts.referenceLabel.textContent = ui.reference;
    this.#parts.referenceId.textContent = reference ?? "";
    clearTimeout(this.#copiedReset);
    this.#parts.copy.textContent = ui.copy_reference;

    this.#parts.close.textContent = ui.close;
    this.#parts.close.className = retry === undefined ? "primary" : "";
    this.#parts.retry.hidden = retry === undefined;
    this.#tick();
  }

  // Label and enable "Try again" for the moment; while the server asks to
  // wait, say for how long and come back when the next second has passed.
  readonly #tick = (): void => {
    const { words, ui, retry, retryAt } = this.#view;
    const left = retryAt - Date.now();
    const waiting = retry !== undefined && left > 0;
    const { status, retry: button } = this.#parts;

    clearTimeout(this.#countdown);
    const seconds = Math.ceil(left / 1000);
    status.textContent = waiting ? formatCopy(ui.wait, { seconds }, words.locale) : "";
    button.textContent = this.#busy ? ui.retrying : (words.action ?? ui.retry);
    // aria-disabled rather than disabled: a disabled button loses focus,
    // and focus must stay on it while the countdown runs or the retry does.
    setOrRemove(button, "aria-disabled", waiting || this.#busy ? "true" : undefined);
    setOrRemove(button, "aria-busy", this.#busy ? "true" : undefined);
    if (waiting) {
      this.#countdown = setTimeout(this.#tick, left % 1000 || 1000);
    }
  };

  async #retry(): Promise<void> {
    const { error, retry, retryAt } = this.#view;
    if (retry === undefined || this.#busy || retryAt > Date.now()) {
      return;
    }
    this.#busy = true;
    this.#tick();

    try {
      await retry();
    } catch (failure) {
      this.#busy = false;
      if (this.#isClosed) {
        return;
      }
      if (isAbort(failure)) {
        this.#tick();
      } else {
        this.#show(failure);
      }
      return;
    }
    this.#busy = false;
    this.#report("recovered", error);
    this.#close("recovered");
  }

  async #copyReference(): Promise<void> {
    const { reference, ui } = this.#view;
    if (reference === undefined) {
      return;
    }

    try {
      await navigator.clipboard.writeText(reference);
    } catch {
      // No clipboard (an insecure page) or no permission: the ID stays on
      // screen, as text the user can select.
      return;
    }
    clearTimeout(this.#copiedReset);
    this.#parts.copy.textContent = ui.copied;
    this.#copiedReset = setTimeout(() => {
      this.#parts.copy.textContent = this.#view.ui.copy_reference;
    }, COPIED_MS);
  }

  #report(type: "modal.shown" | "recovered", error: HiccupError | undefined): void {
    if (error === undefined) {
      return;
    }
    const reporters = [...reportersOf(error), ...(this.#options.reporters ?? [])];

    emit({ type, error }, reporters);
  }
}

function setOrRemove(node: Element, name: string, value: string | undefined): void {
  if (value === undefined) {
    node.removeAttribute(name);
  } else {
    node.setAttribute(name, value);
  }
}

/** Tell whether `value` says that an operation was cancelled on purpose. */
function isAbort(value: unknown): boolean {
  return typeof value === "object" && value !== null && Reflect.get(value, "name") === "AbortError";
}

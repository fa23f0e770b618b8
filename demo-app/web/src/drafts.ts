// The "Save a draft" section: a form whose invalid fields get the
// contract's words beside them, and the list of saved drafts.

import {
  describe,
  type FieldError,
  formatCopy,
  type HiccupError,
  isHiccupError,
  type Locale,
  lookupCopy,
} from "hiccup";
import { text } from "./copy";
import { byId, make } from "./dom";
import { perform, type Section, type Session } from "./setup";

/** What the form sends to POST /api/drafts. */
interface DraftInput {
  readonly title: string;
  readonly prompt: string;
  readonly tone: string;
}

/** A saved draft, as GET /api/drafts lists it. */
interface SavedDraft {
  readonly id: number;
  readonly title: string;
  readonly created_at: string;
}

type Field = HTMLInputElement | HTMLTextAreaElement | HTMLSelectElement;

/** The drafts section, whose list the page also loads when it starts. */
export interface DraftsSection extends Section {
  load(): Promise<void>;
}

/** Wire the section up; `now` returns the page's current session. */
export function mountDrafts(now: () => Session): DraftsSection {
  const form = byId("save-form", HTMLFormElement);
  const title = byId("title", HTMLInputElement);
  const prompt = byId("draft-prompt", HTMLTextAreaElement);
  const tone = byId("tone", HTMLSelectElement);
  // The fields by the JSON pointer the server's field errors name them with.
  const fields = new Map<string, Field>([
    ["/title", title],
    ["/prompt", prompt],
    ["/tone", tone],
  ]);
  const status = byId("save-status", HTMLElement);
  const list = byId("drafts-list", HTMLUListElement);
  let drafts: readonly SavedDraft[] = [];
  let outcome: "saved" | HiccupError | undefined;

  async function load(): Promise<void> {
    const body = await now().client.json<{ drafts: readonly SavedDraft[] }>("/api/drafts");
    drafts = body.drafts;
    localize();
  }

  // One draft however often the user tries to save it: every try after the
  // first sends the first one's Idempotency-Key, so that a save whose answer
  // was lost is not stored twice.
  function saver(draft: DraftInput): () => Promise<void> {
    let key: string | undefined;

    return async () => {
      show(undefined);
      try {
        await now().client.json("/api/drafts", {
          method: "POST",
          json: draft,
          idempotencyKey: key ?? true,
        });
      } catch (error: unknown) {
        if (!isHiccupError(error)) {
          throw error;
        }
        key ??= error.idempotencyKey;
        if (error.fieldErrors.length === 0) {
          throw error;
        }
        show(error);
        firstInvalid()?.focus();
        return;
      }
      form.reset();
      show("saved");
      await load();
    };
  }

  function show(next: typeof outcome): void {
    outcome = next;
    localize();
  }

  function firstInvalid(): Field | undefined {
    return [...fields.values()].find((field) => field.getAttribute("aria-invalid") === "true");
  }

  function localize(): void {
    const locale = now().locale;
    const rejected = isHiccupError(outcome) ? outcome.fieldErrors : [];
    const unplaced = rejected.filter((error) => !fields.has(pointerOf(error)));

    for (const [pointer, field] of fields) {
      const mine = rejected.filter((error) => pointerOf(error) === pointer);
      markField(field, mine.map((error) => fieldMessage(error, locale)).join(" "));
    }
    status.textContent = statusText(outcome, unplaced, locale);
    list.replaceChildren(...listItems(drafts, locale));
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const draft = { title: title.value, prompt: prompt.value, tone: tone.value };
    void perform(saver(draft), { locale: now().locale });
  });

  return { load, localize };
}

function pointerOf(error: FieldError): string {
  return error.source.pointer ?? "";
}

function statusText(
  outcome: "saved" | HiccupError | undefined,
  unplaced: readonly FieldError[],
  locale: Locale,
): string {
  if (outcome === undefined) {
    return "";
  }
  if (outcome === "saved") {
    return text(locale, "save.saved");
  }
  // What the failure as a whole means, then the field errors that name no
  // field of this form, which would otherwise go unseen.
  const messages = unplaced.map((error) => fieldMessage(error, locale));

  return [describe(outcome, locale).message, ...messages].join(" ");
}

/** Render the contract's words for one field error, with its params. */
function fieldMessage(error: FieldError, locale: Locale): string {
  const copy = lookupCopy(error.code, locale, "invalid_request");

  return copy === undefined ? "" : formatCopy(copy.message, error.params, locale);
}

/** Show `message` beside `field`, or clear it when there is none. */
function markField(field: Field, message: string): void {
  const note = byId(`${field.id}-error`, HTMLElement);

  note.textContent = message;
  note.hidden = message === "";
  if (message === "") {
    field.removeAttribute("aria-invalid");
    field.removeAttribute("aria-describedby");
  } else {
    field.setAttribute("aria-invalid", "true");
    field.setAttribute("aria-describedby", note.id);
  }
}

function listItems(drafts: readonly SavedDraft[], locale: Locale): HTMLLIElement[] {
  if (drafts.length === 0) {
    return [make("li", text(locale, "drafts.empty"))];
  }
  const format = new Intl.DateTimeFormat(locale, { dateStyle: "medium", timeStyle: "short" });

  return drafts.map((draft) => {
    const item = make("li", `${draft.title} `);
    const time = make("time");
    const created = new Date(draft.created_at);

    time.dateTime = draft.created_at;
    time.textContent = Number.isNaN(created.getTime()) ? draft.created_at : format.format(created);
    item.dataset["draftId"] = String(draft.id);
    item.append(time);

    return item;
  });
}

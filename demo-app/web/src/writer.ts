// The "Write" section: a prompt, and the draft the server streams back.

import { isHiccupError } from "hiccup";
import { type CopyKey, text } from "./copy";
import { byId, isRecord } from "./dom";
import { droppedFailure, envelopeFailure, type FailedCall, startTrace } from "./failures";
import { perform, type Section, type Session } from "./setup";
import { readEvents } from "./sse";

/** What the status line says: nothing yet, writing, or finished. */
type Progress = "idle" | "writing" | "done";

const PROGRESS_COPY: Readonly<Record<Progress, CopyKey | undefined>> = {
  idle: undefined,
  writing: "write.writing",
  done: "write.done",
};

/** Wire the section up; `now` returns the page's current session. */
export function mountWriter(now: () => Session): Section {
  const prompt = byId("prompt", HTMLTextAreaElement);
  const button = byId("write", HTMLButtonElement);
  const output = byId("draft-output", HTMLElement);
  const note = byId("degraded", HTMLElement);
  const status = byId("write-status", HTMLElement);
  let progress: Progress = "idle";

  function localize(): void {
    const key = PROGRESS_COPY[progress];
    status.textContent = key === undefined ? "" : text(now().locale, key);
  }

  function track(next: Progress): void {
    progress = next;
    // Announce the draft once it is whole, not word by word.
    output.setAttribute("aria-busy", String(next === "writing"));
    button.setAttribute("aria-disabled", String(next === "writing"));
    localize();
  }

  async function write(): Promise<void> {
    if (progress === "writing") {
      return;
    }
    output.replaceChildren();
    note.hidden = true;
    track("writing");
    try {
      note.hidden = !(await stream(now(), prompt.value, output));
      track("done");
    } catch (error: unknown) {
      track("idle");
      throw error;
    }
  }

  byId("write-form", HTMLFormElement).addEventListener("submit", (event) => {
    event.preventDefault();
    void perform(write, { locale: now().locale });
  });

  return { localize };
}

/**
 * Stream a draft for `prompt` into `output`, as text.
 *
 * @returns Whether the server fell back to a lesser writer.
 * @throws HiccupError when the request fails, when the server reports a
 *   failure mid-stream, or when the stream ends before its `done` event.
 */
async function stream(session: Session, prompt: string, output: HTMLElement): Promise<boolean> {
  const call: FailedCall = {
    url: "/api/drafts/stream",
    method: "POST",
    traceparent: startTrace(),
  };
  // A stream cannot be replayed: a retry would repeat the words already
  // shown. "Try again" in the failure modal starts a new one instead.
  const response = await session.client.request(call.url, {
    method: call.method,
    json: { prompt },
    headers: { Accept: "text/event-stream", traceparent: call.traceparent },
    retry: false,
  });
  const degradedHeader = response.headers.has("X-Degraded");

  try {
    for await (const { event, data } of readEvents(response.body ?? emptyBody())) {
      const payload = parse(data);
      if (event === "token" && isRecord(payload) && typeof payload["text"] === "string") {
        output.append(payload["text"]);
      } else if (event === "done") {
        return degradedHeader || degradedParts(payload).length > 0;
      } else if (event === "error") {
        throw await envelopeFailure(payload, call, session.options);
      }
    }
  } catch (error: unknown) {
    if (isHiccupError(error)) {
      throw error;
    }
    // Reading the body only fails when the connection does.
    throw await droppedFailure(error, call, session.options);
  }
  const cut = new TypeError("The stream ended before its last event.");
  throw await droppedFailure(cut, call, session.options);
}

function degradedParts(payload: unknown): readonly unknown[] {
  const parts = isRecord(payload) ? payload["degraded"] : undefined;

  return Array.isArray(parts) ? parts : [];
}

// An event whose data is not JSON carries nothing the page can use.
function parse(data: string): unknown {
  try {
    return JSON.parse(data);
  } catch {
    return undefined;
  }
}

function emptyBody(): ReadableStream<Uint8Array> {
  return new ReadableStream({ start: (controller) => controller.close() });
}

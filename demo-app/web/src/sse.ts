// A reader for text/event-stream bodies, as much of the format as the
// writer's stream uses: `event` and `data` fields, comments, and a blank
// line ending each event.

/** One event of a stream. */
export interface ServerEvent {
  readonly event: string;
  readonly data: string;
}

/**
 * Yield the events of `body` as they arrive.
 *
 * Leaving the loop early cancels the body, so that the connection is not
 * held open for events nobody will read.
 */
export async function* readEvents(body: ReadableStream<Uint8Array>): AsyncGenerator<ServerEvent> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffered = "";
  let event = "";
  let data: string[] = [];

  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) {
        return;
      }
      // Streaming, so that a character split across two chunks stays whole.
      const lines = (buffered + decoder.decode(value, { stream: true })).split("\n");
      // The last piece has no newline yet: it waits for the next chunk.
      buffered = lines.pop() ?? "";
      for (const raw of lines) {
        const line = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
        if (line === "") {
          if (data.length > 0) {
            yield { event: event || "message", data: data.join("\n") };
          }
          event = "";
          data = [];
        } else if (!line.startsWith(":")) {
          const [name, content] = field(line);
          if (name === "event") {
            event = content;
          } else if (name === "data") {
            data.push(content);
          }
        }
      }
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
}

function field(line: string): [name: string, value: string] {
  const colon = line.indexOf(":");
  if (colon === -1) {
    return [line, ""];
  }
  const value = line.slice(colon + 1);

  return [line.slice(0, colon), value.startsWith(" ") ? value.slice(1) : value];
}

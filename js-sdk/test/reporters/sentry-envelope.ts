// Sentry's envelope wire format (https://develop.sentry.dev/sdk/envelopes/):
// a header line of JSON, then per item a header line of JSON and a payload,
// which is `length` bytes long when the item header says so, and runs to the
// next newline otherwise.

const NEWLINE = 0x0a;

/** One item of an envelope: its header and its payload, parsed as JSON. */
export interface EnvelopeItem {
  readonly header: { readonly type: string; readonly length?: number };
  readonly payload: unknown;
}

export interface Envelope {
  readonly header: Readonly<Record<string, unknown>>;
  readonly items: readonly EnvelopeItem[];
}

/** The parts of a Sentry error event the tests look at. */
export interface SentryEvent {
  readonly level?: string;
  readonly tags?: Readonly<Record<string, string>>;
  readonly fingerprint?: readonly string[];
  readonly contexts?: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
  readonly breadcrumbs?: readonly SentryEventBreadcrumb[];
  readonly exception?: {
    readonly values: readonly {
      readonly type: string;
      readonly value: string;
      readonly stacktrace?: { readonly frames: readonly { readonly filename?: string }[] };
    }[];
  };
}

export interface SentryEventBreadcrumb {
  readonly type?: string;
  readonly category?: string;
  readonly level?: string;
  readonly message?: string;
  readonly data?: Readonly<Record<string, unknown>>;
}

/** Parse the body of a request to Sentry's envelope endpoint. */
export function parseEnvelope(raw: Buffer): Envelope {
  const reader = new LineReader(raw);
  const header = JSON.parse(reader.line()) as Envelope["header"];
  const items: EnvelopeItem[] = [];

  while (!reader.done()) {
    const itemHeader = JSON.parse(reader.line()) as EnvelopeItem["header"];
    const payload =
      itemHeader.length === undefined ? reader.line() : reader.bytes(itemHeader.length);
    items.push({ header: itemHeader, payload: JSON.parse(payload) });
  }

  return { header, items };
}

/** Return the error events among an envelope's items. */
export function eventsOf(envelope: Envelope): SentryEvent[] {
  return envelope.items
    .filter((item) => item.header.type === "event")
    .map((item) => item.payload as SentryEvent);
}

class LineReader {
  private position = 0;

  constructor(private readonly raw: Buffer) {}

  // A newline after the last payload is optional, and reading it ends here too.
  done(): boolean {
    return this.position >= this.raw.length;
  }

  line(): string {
    const end = this.raw.indexOf(NEWLINE, this.position);
    const stop = end === -1 ? this.raw.length : end;
    const text = this.raw.subarray(this.position, stop).toString("utf8");
    this.position = stop + 1;

    return text;
  }

  bytes(length: number): string {
    const text = this.raw.subarray(this.position, this.position + length).toString("utf8");
    this.position += length;
    if (this.raw[this.position] === NEWLINE) {
      this.position++;
    }

    return text;
  }
}

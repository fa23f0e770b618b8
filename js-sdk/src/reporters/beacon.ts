import type { HiccupEvent, Reporter } from "../events.js";
import { logRecord, type RecordHeader, type RecordOptions, recordHeader } from "./record.js";

/** How many records a batch holds at most, unless told otherwise. */
export const DEFAULT_MAX_BATCH = 50;
/**
 * How many bytes a batch's body has at most, unless told otherwise: under
 * the 64 KiB that browsers let `sendBeacon` and keepalive requests queue.
 */
export const DEFAULT_MAX_BYTES = 60_000;
/** How long a record waits for the rest of its batch, unless told otherwise. */
export const DEFAULT_FLUSH_INTERVAL_MS = 5_000;

/** How `beaconReporter` labels its records and batches them. */
export interface BeaconReporterOptions extends RecordOptions {
  /** Send as soon as a batch has this many records. */
  readonly maxBatch?: number | undefined;
  /** The most bytes a batch's JSON body may have, encoded as UTF-8. */
  readonly maxBytes?: number | undefined;
  /** Send a batch at most this long after its first record. */
  readonly flushIntervalMs?: number | undefined;
}

/** A reporter that sends its records to a log endpoint in batches. */
export interface BeaconReporter extends Reporter {
  /** How many records were dropped: too big to send, or reported after `close()`. */
  readonly dropped: number;
  /** Send the records buffered so far, now. */
  flush(): void;
  /** Send what is buffered, then stop: no more timer, no more page-hide listeners. */
  close(): void;
}

// The brackets of an empty JSON array.
const EMPTY_BATCH_BYTES = 2;
const encoder = new TextEncoder();

/**
 * Return a reporter that sends log records to `url`, the app's own log
 * endpoint, as JSON arrays.
 *
 * The records are those `consoleReporter` writes. A batch is sent when it
 * is full (`maxBatch` records, or one more would take it past `maxBytes`),
 * `flushIntervalMs` after its first record, and when the page is hidden or
 * unloaded, the last chance a tab may get. Each batch goes with
 * `navigator.sendBeacon`, or, where that is missing or refuses it, with a
 * keepalive `fetch`, so that it survives the page.
 *
 * Delivery is best effort: a failed send is not retried, so that an
 * outage of the endpoint never multiplies its load, and never throws into
 * the app. A record too big for a batch of its own is dropped and counted
 * in `dropped`.
 *
 * @param url Where to POST the batches. Best on the page's own origin: a
 *   JSON body sent to another origin needs a CORS preflight first.
 * @param options The records' `service`, `version` and `env`, and the
 *   batch limits.
 * @throws {RangeError} When a limit is not a positive integer, or
 *   `service` is empty.
 */
export function beaconReporter(url: string, options: BeaconReporterOptions = {}): BeaconReporter {
  return new BeaconBatcher(url, options);
}

class BeaconBatcher implements BeaconReporter {
  private readonly header: RecordHeader;
  private readonly maxBatch: number;
  private readonly maxBytes: number;
  private readonly flushIntervalMs: number;
  private readonly records: string[] = [];
  private bytes = EMPTY_BATCH_BYTES;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private closed = false;
  private droppedRecords = 0;
  private readonly stopListening: () => void;

  constructor(
    private readonly url: string,
    options: BeaconReporterOptions,
  ) {
    this.header = recordHeader(options);
    this.maxBatch = positiveInteger("maxBatch", options.maxBatch ?? DEFAULT_MAX_BATCH);
    this.maxBytes = positiveInteger("maxBytes", options.maxBytes ?? DEFAULT_MAX_BYTES);
    this.flushIntervalMs = positiveInteger(
      "flushIntervalMs",
      options.flushIntervalMs ?? DEFAULT_FLUSH_INTERVAL_MS,
    );
    this.stopListening = onPageHide(() => this.flush());
  }

  get dropped(): number {
    return this.droppedRecords;
  }

  report(event: HiccupEvent): void {
    if (this.closed) {
      this.droppedRecords++;
      return;
    }
    const record = JSON.stringify(logRecord(event, this.header));
    const size = encoder.encode(record).length;
    if (EMPTY_BATCH_BYTES + size > this.maxBytes) {
      this.droppedRecords++;
      return;
    }

    if (this.records.length > 0 && this.bytes + 1 + size > this.maxBytes) {
      this.flush();
    }
    // Every record after the first adds a comma.
    this.bytes += size + (this.records.length > 0 ? 1 : 0);
    this.records.push(record);

    if (this.records.length >= this.maxBatch) {
      this.flush();
    } else {
      this.timer ??= setTimeout(() => this.flush(), this.flushIntervalMs);
    }
  }

  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.records.length === 0) {
      return;
    }
    const body = `[${this.records.join(",")}]`;
    this.records.length = 0;
    this.bytes = EMPTY_BATCH_BYTES;

    send(this.url, body);
  }

  close(): void {
    this.flush();
    this.closed = true;
    this.stopListening();
  }
}

function positiveInteger(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new RangeError(`${name} must be a positive integer, got ${value}`);
  }

  return value;
}

/**
 * Call `flush` when the page is hidden or unloaded; return the function that
 * stops listening. Outside a browser there is no page, and nothing to do.
 */
function onPageHide(flush: () => void): () => void {
  // `visibilitychange` to hidden is the last event a page reliably gets on
  // mobile, where a hidden tab is often killed without `pagehide`;
  // `pagehide` covers browsers that unload a page without hiding it first.
  const onVisibilityChange = (): void => {
    if (document.visibilityState === "hidden") {
      flush();
    }
  };
  const hasDocument = typeof document !== "undefined";
  const hasWindow = typeof window !== "undefined";

  if (hasDocument) {
    document.addEventListener("visibilitychange", onVisibilityChange);
  }
  if (hasWindow) {
    window.addEventListener("pagehide", flush);
  }

  return () => {
    if (hasDocument) {
      document.removeEventListener("visibilitychange", onVisibilityChange);
    }
    if (hasWindow) {
      window.removeEventListener("pagehide", flush);
    }
  };
}

/** Send `body` without waiting for it and without throwing, whatever happens. */
function send(url: string, body: string): void {
  if (beacon(url, body)) {
    return;
  }

  try {
    fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body,
      keepalive: true,
    })
      // Nothing is read from the answer; cancelling the body frees the
      // connection now rather than when the response is collected.
      .then((response) => response.body?.cancel())
      .catch(() => undefined);
  } catch {
    // No fetch at all: the batch is lost, as with a failed request.
  }
}

/** Queue `body` as a beacon; return whether the browser accepted it. */
function beacon(url: string, body: string): boolean {
  if (typeof navigator === "undefined" || typeof navigator.sendBeacon !== "function") {
    return false;
  }

  try {
    return navigator.sendBeacon(url, new Blob([body], { type: "application/json" }));
  } catch {
    // It throws, rather than returning false, on a URL it cannot parse.
    return false;
  }
}

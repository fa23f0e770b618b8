import type { Reporter } from "../events.js";
import { type LogLevel, logRecord, type RecordOptions, recordHeader } from "./record.js";

/** The console methods the reporter writes with. */
export type ConsoleLike = Pick<Console, "debug" | "info" | "warn" | "error">;

/** How `consoleReporter` labels its records and where it writes them. */
export interface ConsoleReporterOptions extends RecordOptions {
  /** Where to write; the global `console` if not given. */
  readonly console?: ConsoleLike | undefined;
}

const METHOD_OF = {
  debug: "debug",
  info: "info",
  warning: "warn",
  error: "error",
  critical: "error",
} as const satisfies Record<LogLevel, keyof ConsoleLike>;

/**
 * Return a reporter that writes one log record per event to the console.
 *
 * Each record is passed as a single object, so that developer tools show
 * its fields rather than a line of text. Retries are written at `debug`, a
 * failure the server refused (4xx) at `warning`, any other failure at
 * `error`, and the failure modal's events at `info`; see `LogRecord` for
 * the fields.
 *
 * @param options The `service` (`"browser"` by default), `version` and
 *   `env` of every record, and the console to write to.
 *
 * @throws {RangeError} When `service` is an empty string.
 */
export function consoleReporter(options: ConsoleReporterOptions = {}): Reporter {
  const header = recordHeader(options);
  const sink = options.console ?? console;

  return {
    report(event) {
      const record = logRecord(event, header);
      sink[METHOD_OF[record.level]](record);
    },
  };
}

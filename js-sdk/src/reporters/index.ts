// Values.

export {
  beaconReporter,
  DEFAULT_FLUSH_INTERVAL_MS,
  DEFAULT_MAX_BATCH,
  DEFAULT_MAX_BYTES,
} from "./beacon.js";
export { consoleReporter } from "./console.js";
export { isCapturedByDefault, sentryReporter } from "./sentry.js";

// Types.

export type { BeaconReporter, BeaconReporterOptions } from "./beacon.js";
export type { ConsoleLike, ConsoleReporterOptions } from "./console.js";
export type { LogLevel, LogRecord, RecordOptions } from "./record.js";
export type {
  SentryBreadcrumb,
  SentryCaptureContext,
  SentryLevel,
  SentryLike,
  SentryReporterOptions,
} from "./sentry.js";

import type { HiccupEvent } from "../events.js";
import {
  correlationOf,
  EVENT_NAMES,
  errorTypeOf,
  levelOf,
  methodOf,
  pathOf,
  reportableParams,
  responseStatusOf,
  setDefined,
} from "./fields.js";

/** The levels of contracts/schema/log-record.schema.json. */
export type LogLevel = "debug" | "info" | "warning" | "error" | "critical";

/**
 * One structured log line, in the schema the Python middleware writes
 * (contracts/schema/log-record.schema.json).
 *
 * Besides the fields named here a record may have `version`, `env`,
 * `request_id`, `trace_id`, `http.request.method`,
 * `http.response.status_code`, `url.path`, `error.code`, `error.type`,
 * `error.category`, `error.params`, `attempt`, `delay_ms` and
 * `retry.reason`.
 */
export interface LogRecord {
  /** RFC 3339, in UTC, ending in `Z`. */
  readonly timestamp: string;
  readonly level: LogLevel;
  readonly logger: string;
  /** A fixed name, such as `http.client.failure`. */
  readonly event: string;
  readonly service: string;
  readonly [field: string]: unknown;
}

/** Who wrote the records: the fields every record of a reporter shares. */
export interface RecordOptions {
  /** The `service` field; `"browser"` if not given. */
  readonly service?: string | undefined;
  /** The `version` field, the frontend's release. */
  readonly version?: string | undefined;
  /** The `env` field, such as `production`. */
  readonly env?: string | undefined;
}

/** The fields every record of one reporter repeats. */
export interface RecordHeader {
  readonly service: string;
  readonly version?: string;
  readonly env?: string;
}

/** The `logger` of every record the SDK writes. */
export const LOGGER = "hiccup.sdk";
export const DEFAULT_SERVICE = "browser";

/**
 * Check `options` and return the fields every record repeats.
 *
 * @throws {RangeError} When `service` is empty: the schema requires one.
 */
export function recordHeader(options: RecordOptions): RecordHeader {
  const { service = DEFAULT_SERVICE, version, env } = options;
  if (service === "") {
    throw new RangeError('service must be a non-empty string, got ""');
  }

  return {
    service,
    ...(version === undefined ? {} : { version }),
    ...(env === undefined ? {} : { env }),
  };
}

/**
 * Make the log record of `event`.
 *
 * Personal params, the error's message, the server's copy and field errors
 * are never part of it: a record may hold only what the SDK itself knows
 * to be safe, never anything a user typed.
 */
export function logRecord(event: HiccupEvent, header: RecordHeader): LogRecord {
  const { error } = event;
  const { code, requestId, traceId } = correlationOf(error);
  const record: Writable<LogRecord> = {
    timestamp: new Date().toISOString(),
    level: levelOf(event),
    logger: LOGGER,
    event: EVENT_NAMES[event.type],
    ...header,
  };

  setDefined(record, "request_id", requestId);
  setDefined(record, "trace_id", traceId);
  record["http.request.method"] = methodOf(error);
  setDefined(record, "http.response.status_code", responseStatusOf(error));
  setDefined(record, "url.path", pathOf(error));
  setDefined(record, "error.code", code);
  record["error.type"] = errorTypeOf(error);
  record["error.category"] = error.category;

  const params = reportableParams(error);
  if (Object.keys(params).length > 0) {
    record["error.params"] = params;
  }
  if (event.type === "retry") {
    record["attempt"] = event.attempt;
    record["delay_ms"] = Math.round(event.delayMs);
    record["retry.reason"] = event.reason;
  } else if (event.type === "failure") {
    record["attempt"] = error.attempts;
    setDefined(record, "retry.reason", event.reason);
  }

  return record;
}

type Writable<T> = { -readonly [K in keyof T]: T[K] };

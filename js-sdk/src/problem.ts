import { CATEGORIES, type Category, type Code } from "./contract.generated.js";
import type { CopyParams } from "./contract.js";
import type {
  FieldError,
  FieldSource,
  HiccupErrorInit,
  RetryHints,
  ServerCopy,
} from "./errors/hiccup-error.js";
import { NetworkError } from "./errors/network-error.js";
import { type Problem, ResponseError } from "./errors/response-error.js";
import { TimeoutError } from "./errors/timeout-error.js";
import { parseRetryAfter } from "./retry.js";

/** The request a failure belongs to, as the error reports it. */
export interface FailedRequest {
  readonly method: string;
  readonly url: URL;
  readonly locale: string | undefined;
  readonly attempts: number;
  readonly idempotencyKey: string | undefined;
  readonly traceId: string;
}

/** What the contract says of a code: its category and `auto` and `user` flags. */
type Basics = readonly [code: Code, category: Category, auto: boolean, user: boolean];

// The code a bare status stands for when the body says nothing more, as the
// server's middleware maps bare statuses, with what the contract says of
// it. Only these few codes are needed without an envelope, so the client
// carries them rather than the whole contract; a test checks them against it.
const BY_STATUS: Readonly<Record<number, Basics>> = {
  400: ["BAD_REQUEST", "invalid_request", false, false],
  401: ["UNAUTHENTICATED", "unauthenticated", false, false],
  403: ["FORBIDDEN", "forbidden", false, false],
  404: ["NOT_FOUND", "not_found", false, false],
  405: ["METHOD_NOT_ALLOWED", "invalid_request", false, false],
  408: ["REQUEST_TIMED_OUT", "timeout", true, true],
  409: ["CONFLICT", "conflict", false, false],
  413: ["PAYLOAD_TOO_LARGE", "invalid_request", false, false],
  415: ["UNSUPPORTED_MEDIA_TYPE", "invalid_request", false, false],
  422: ["VALIDATION_FAILED", "invalid_request", false, false],
  429: ["RATE_LIMITED", "rate_limited", true, true],
  500: ["INTERNAL", "internal", false, true],
  502: ["UPSTREAM_ERROR", "upstream", true, true],
  503: ["DEPENDENCY_UNAVAILABLE", "unavailable", true, true],
  504: ["UPSTREAM_TIMEOUT", "timeout", true, true],
};
const NETWORK_OFFLINE: Basics = ["NETWORK_OFFLINE", "network", true, true];
const REQUEST_TIMED_OUT: Basics = ["REQUEST_TIMED_OUT", "timeout", true, true];

/** Return the table's entries, for checking them against the contract. */
export function statusBasics(): readonly Basics[] {
  return [...Object.values(BY_STATUS), NETWORK_OFFLINE, REQUEST_TIMED_OUT];
}

/** The result of reading a failed response: the error, and whether the server gave retry hints. */
export interface ReadFailure {
  readonly error: ResponseError;
  readonly hinted: boolean;
}

/**
 * Turn an error response into a ResponseError.
 *
 * An RFC 9457 envelope supplies the code, IDs, params, field errors, retry
 * hints and server copy. Anything else (a proxy's HTML page, an empty body,
 * JSON that is not an envelope) gets the code closest to the status, and
 * the server's `Retry-After`, if any.
 */
export async function readFailure(
  response: Response,
  request: FailedRequest,
): Promise<ReadFailure> {
  const receivedAt = Date.now();
  const problem = await readProblem(response);
  const [statusCode, statusCategory, auto, user] = byStatus(response.status);
  const code = typeof problem?.["code"] === "string" ? problem["code"] : statusCode;
  const category = isCategory(problem?.["category"]) ? problem["category"] : statusCategory;
  const hints = retryHints(problem?.["retry"]) ?? shouldRetry(response.headers);
  const afterMs =
    hints?.afterMs ?? parseRetryAfter(response.headers.get("Retry-After"), receivedAt);
  const retry: RetryHints = { auto: hints?.auto ?? auto, user: hints?.user ?? user, afterMs };

  const error = new ResponseError(describeFailure(request, `${response.status} ${code}`), {
    ...base(request, code, category, response.status, retry),
    retryAt: afterMs === undefined ? undefined : receivedAt + afterMs,
    requestId: stringOr(problem?.["request_id"], response.headers.get("X-Request-ID")),
    traceId: stringOr(problem?.["trace_id"], request.traceId),
    params: params(problem?.["params"]),
    fieldErrors: fieldErrors(problem?.["errors"]),
    user: serverCopy(problem?.["user"]),
    response,
    problem,
  });

  return { error, hinted: hints !== undefined };
}

/**
 * Make the error for a successful response whose body is not the JSON the
 * caller asked for: the server broke its side of the exchange.
 */
export function invalidBody(
  response: Response,
  request: FailedRequest,
  cause: unknown,
): ResponseError {
  return new ResponseError(
    describeFailure(request, `${response.status} with a body that is not JSON`),
    {
      ...synthetic(request, byStatus(500), response.status),
      requestId: response.headers.get("X-Request-ID") ?? undefined,
      traceId: request.traceId,
      response,
      cause,
    },
  );
}

/** Make the error for an attempt that got no response at all. */
export function networkFailure(request: FailedRequest, cause: unknown): NetworkError {
  return new NetworkError(describeFailure(request, "no response"), {
    ...synthetic(request, NETWORK_OFFLINE, 0),
    traceId: request.traceId,
    cause,
  });
}

/** Make the error for an attempt or an operation that ran out of time. */
export function timeoutFailure(request: FailedRequest, limitMs: number): TimeoutError {
  return new TimeoutError(describeFailure(request, `no response within ${limitMs} ms`), {
    ...synthetic(request, REQUEST_TIMED_OUT, 0),
    traceId: request.traceId,
  });
}

function synthetic(request: FailedRequest, basics: Basics, status: number): HiccupErrorInit {
  const [code, category, auto, user] = basics;

  return base(request, code, category, status, { auto, user, afterMs: undefined });
}

function base(
  request: FailedRequest,
  code: string,
  category: Category,
  status: number,
  retry: RetryHints,
): HiccupErrorInit {
  return {
    code,
    category,
    status,
    retry,
    method: request.method,
    url: `${request.url.origin}${request.url.pathname}`,
    locale: request.locale,
    attempts: request.attempts,
    idempotencyKey: request.idempotencyKey,
  };
}

// The message is for developers; it leaves out the query string, which
// can carry what a user typed.
function describeFailure(request: FailedRequest, what: string): string {
  return `${request.method} ${request.url.pathname}: ${what}`;
}

async function readProblem(response: Response): Promise<Problem | undefined> {
  const type = response.headers.get("Content-Type") ?? "";
  if (!/[/+]json\b/i.test(type)) {
    return undefined;
  }
  try {
    const body: unknown = JSON.parse(await response.clone().text());
    return isRecord(body) && typeof body["code"] === "string" ? body : undefined;
  } catch {
    // An empty or truncated body, or not JSON at all: read it by status.
    return undefined;
  }
}

function byStatus(status: number): Basics {
  return BY_STATUS[status] ?? (status >= 500 ? byStatus(500) : byStatus(400));
}

function isCategory(value: unknown): value is Category {
  return CATEGORIES.some((category) => category === value);
}

/** Retry hints as the server gave them; any of them may be missing. */
interface Hints {
  readonly auto: boolean;
  readonly user?: boolean | undefined;
  readonly afterMs?: number | undefined;
}

// Without an envelope, a server may still say whether a retry can help.
function shouldRetry(headers: Headers): Hints | undefined {
  const value = headers.get("X-Should-Retry");

  return value === "true" || value === "false" ? { auto: value === "true" } : undefined;
}

function retryHints(value: unknown): Hints | undefined {
  if (!isRecord(value) || typeof value["auto"] !== "boolean") {
    return undefined;
  }
  const after = value["after_ms"];

  return {
    auto: value["auto"],
    user: typeof value["user"] === "boolean" ? value["user"] : undefined,
    afterMs: typeof after === "number" && after >= 0 ? after : undefined,
  };
}

function params(value: unknown): CopyParams {
  if (!isRecord(value)) {
    return {};
  }
  const found: Record<string, string | number> = {};
  for (const [name, param] of Object.entries(value)) {
    if (typeof param === "string" || typeof param === "number") {
      found[name] = param;
    }
  }

  return found;
}

function fieldErrors(value: unknown): FieldError[] {
  if (!Array.isArray(value)) {
    return [];
  }

  return value.flatMap((item: unknown) => {
    if (!isRecord(item) || typeof item["code"] !== "string" || !isRecord(item["source"])) {
      return [];
    }
    const source = item["source"];
    const [key] = Object.keys(source);
    const where = key === undefined ? undefined : source[key];
    if (
      typeof where !== "string" ||
      (key !== "pointer" && key !== "parameter" && key !== "header")
    ) {
      return [];
    }

    return [
      { source: fieldSource(key, where), code: item["code"], params: params(item["params"]) },
    ];
  });
}

function fieldSource(key: "pointer" | "parameter" | "header", where: string): FieldSource {
  if (key === "pointer") {
    return { pointer: where };
  }

  return key === "parameter" ? { parameter: where } : { header: where };
}

function serverCopy(value: unknown): ServerCopy | undefined {
  if (!isRecord(value)) {
    return undefined;
  }
  const { locale, title, message, action, suggestions } = value;
  if (typeof locale !== "string" || typeof title !== "string" || typeof message !== "string") {
    return undefined;
  }
  const lines = Array.isArray(suggestions)
    ? suggestions.filter((line): line is string => typeof line === "string")
    : [];

  return {
    locale,
    title,
    message,
    ...(typeof action === "string" ? { action } : {}),
    ...(lines.length > 0 ? { suggestions: lines } : {}),
  };
}

function stringOr(value: unknown, fallback: string | null): string | undefined {
  return typeof value === "string" ? value : (fallback ?? undefined);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

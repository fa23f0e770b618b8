import { type Category, CODES } from "./contract.generated.js";
import type { CopyParams } from "./contract.js";
import { isCode } from "./contract.js";
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

// The code a bare status stands for when the body says nothing more; the
// server's middleware maps bare statuses the same way.
const STATUS_CODES: Readonly<Record<number, keyof typeof CODES>> = {
  400: "BAD_REQUEST",
  401: "UNAUTHENTICATED",
  403: "FORBIDDEN",
  404: "NOT_FOUND",
  405: "METHOD_NOT_ALLOWED",
  408: "REQUEST_TIMED_OUT",
  409: "CONFLICT",
  413: "PAYLOAD_TOO_LARGE",
  415: "UNSUPPORTED_MEDIA_TYPE",
  422: "VALIDATION_FAILED",
  429: "RATE_LIMITED",
  500: "INTERNAL",
  502: "UPSTREAM_ERROR",
  503: "DEPENDENCY_UNAVAILABLE",
  504: "UPSTREAM_TIMEOUT",
};

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
  const code =
    typeof problem?.["code"] === "string" ? problem["code"] : statusCode(response.status);
  const hints = retryHints(problem?.["retry"]);
  const afterMs =
    hints?.afterMs ?? parseRetryAfter(response.headers.get("Retry-After"), receivedAt);
  const retry: RetryHints = { ...(hints ?? contractHints(code)), afterMs };

  const error = new ResponseError(describeFailure(request, `${response.status} ${code}`), {
    ...base(request, code, categoryOf(code, response.status), response.status, retry),
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
  const code = "INTERNAL";

  return new ResponseError(
    describeFailure(request, `${response.status} with a body that is not JSON`),
    {
      ...base(request, code, "internal", response.status, contractHints(code)),
      requestId: response.headers.get("X-Request-ID") ?? undefined,
      traceId: request.traceId,
      response,
      cause,
    },
  );
}

/** Make the error for an attempt that got no response at all. */
export function networkFailure(request: FailedRequest, cause: unknown): NetworkError {
  const code = "NETWORK_OFFLINE";

  return new NetworkError(describeFailure(request, "no response"), {
    ...base(request, code, "network", 0, contractHints(code)),
    traceId: request.traceId,
    cause,
  });
}

/** Make the error for an attempt or an operation that ran out of time. */
export function timeoutFailure(request: FailedRequest, limitMs: number): TimeoutError {
  const code = "REQUEST_TIMED_OUT";

  return new TimeoutError(describeFailure(request, `no response within ${limitMs} ms`), {
    ...base(request, code, "timeout", 0, contractHints(code)),
    traceId: request.traceId,
  });
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

function statusCode(status: number): string {
  return STATUS_CODES[status] ?? (status >= 500 ? "INTERNAL" : "BAD_REQUEST");
}

function categoryOf(code: string, status: number): Category {
  return isCode(code)
    ? CODES[code].category
    : CODES[statusCode(status) as keyof typeof CODES].category;
}

function contractHints(code: string): RetryHints {
  const retry = isCode(code) ? CODES[code].retry : { auto: false, user: false };

  return { auto: retry.auto, user: retry.user, afterMs: undefined };
}

function retryHints(value: unknown): RetryHints | undefined {
  if (!isRecord(value) || typeof value["auto"] !== "boolean") {
    return undefined;
  }
  const after = value["after_ms"];

  return {
    auto: value["auto"],
    user: value["user"] === true,
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

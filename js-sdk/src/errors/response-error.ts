import { HiccupError, type HiccupErrorInit, isHiccupError } from "./hiccup-error.js";

/** The problem details a server sent, as far as the SDK reads them. */
export type Problem = Readonly<Record<string, unknown>>;

/**
 * Raised when the server answered with an error status.
 *
 * `problem` is the envelope when the body was one; a proxy's HTML page, an
 * empty body or invalid JSON leave it `undefined` and the code is the one
 * closest to the status.
 */
export class ResponseError extends HiccupError {
  override name = "ResponseError";
  readonly kind = "response";
  readonly response: Response;
  readonly problem: Problem | undefined;

  constructor(
    message: string,
    init: HiccupErrorInit & { readonly response: Response; readonly problem?: Problem | undefined },
  ) {
    super(message, init);
    this.response = init.response;
    this.problem = init.problem;
  }
}

/** Tell whether `value` is a failure the server answered with an error status. */
export function isResponseError(value: unknown): value is ResponseError {
  return isHiccupError(value) && value.kind === "response";
}

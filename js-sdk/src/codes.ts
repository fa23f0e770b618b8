// Questions about the contract's codes, apart from their copy, so that code
// that needs no copy (the client) bundles none.

import { CODES, type Code, type CodeSpec } from "./contract.generated.js";

/** Tell whether `value` is a code this build of the contract knows. */
export function isCode(value: unknown): value is Code {
  return typeof value === "string" && Object.hasOwn(CODES, value);
}

/** Return the status, category, retry policy and params of a known code. */
export function codeSpec(code: Code): CodeSpec {
  return CODES[code];
}

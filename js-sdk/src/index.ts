// Values.

export { createClient, DEFAULT_DEADLINE_MS, DEFAULT_TIMEOUT_MS } from "./client.js";
export { CODES, CONTRACT_VERSION, LOCALES } from "./contract.generated.js";
export {
  codeSpec,
  formatCopy,
  isCode,
  lookupCopy,
  negotiateLocale,
  registerCopy,
  uiCopy,
} from "./contract.js";
export { describe } from "./describe.js";
export { HiccupError, isHiccupError } from "./errors/hiccup-error.js";
export { isNetworkError, NetworkError } from "./errors/network-error.js";
export { isResponseError, ResponseError } from "./errors/response-error.js";
export { isTimeoutError, TimeoutError } from "./errors/timeout-error.js";
export { counters } from "./events.js";
export { showFailureModal } from "./modal/index.js";

// Types.

export type { BreakerOptions, BudgetOptions } from "./budget.js";
export type { Client, ClientOptions, RequestOptions } from "./client.js";
export type {
  Category,
  Code,
  CodeSpec,
  CopyEntry,
  Locale,
  LocaleCopy,
  ParamsByCode,
  RetryPolicy,
  Severity,
  UiCopy,
} from "./contract.generated.js";
export type { CopyParams } from "./contract.js";
export type { Description } from "./describe.js";
export type {
  FieldError,
  FieldSource,
  HiccupErrorInit,
  RetryHints,
  ServerCopy,
} from "./errors/hiccup-error.js";
export type { Problem } from "./errors/response-error.js";
export type { Counters, HiccupEvent, Reporter } from "./events.js";
export type {
  FailureModalCloseReason,
  FailureModalHandle,
  FailureModalOptions,
} from "./modal/index.js";
export type { RetryOptions } from "./retry.js";

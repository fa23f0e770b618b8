// Values.

export { CODES, CONTRACT_VERSION, LOCALES } from "./contract.generated.js";
export { codeSpec, formatCopy, isCode, lookupCopy } from "./contract.js";

// Types.

export type {
  Category,
  Code,
  CodeSpec,
  CopyEntry,
  Locale,
  ParamsByCode,
  RetryPolicy,
  Severity,
} from "./contract.generated.js";
export type { CopyParams } from "./contract.js";

// Values.

export { showFailureModal } from "./modal.js";

// Types.

export type {
  FailureModalCloseReason,
  FailureModalHandle,
  FailureModalOptions,
} from "./modal.js";

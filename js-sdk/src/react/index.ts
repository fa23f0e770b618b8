// The React bindings, published as `hiccup/react`. React is an optional
// peer dependency: nothing outside this folder imports it.

// Values.

export { HiccupBoundary } from "./boundary.js";
export { FailureModal } from "./failure-modal.js";
export { useShowBoundary } from "./show-boundary.js";
export { useRequest } from "./use-request.js";

// Types.

export type { FallbackProps, HiccupBoundaryProps, ResetDetails } from "./boundary.js";
export type { FailureModalProps } from "./failure-modal.js";
export type { RequestState, UseRequestOptions, UseRequestResult } from "./use-request.js";

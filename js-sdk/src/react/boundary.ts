import {
  Component,
  type ComponentType,
  createElement,
  type ErrorInfo,
  type ReactNode,
} from "react";

import { isHiccupError } from "../errors/hiccup-error.js";
import { emit, type Reporter, reportersOf } from "../events.js";
import { FailureModal } from "./failure-modal.js";
import { sameItems } from "./same-items.js";

/** What a fallback is given: the caught value, and a way to try again. */
export interface FallbackProps {
  /** Whatever was thrown: an Error, a HiccupError, or any other value. */
  readonly error: unknown;
  /** Render the children again; `onReset` receives `args`. */
  readonly resetErrorBoundary: (...args: unknown[]) => void;
}

/** Why a boundary rendered its children again, as `onReset` is told. */
export type ResetDetails =
  | { readonly reason: "imperative-api"; readonly args: readonly unknown[] }
  | {
      readonly reason: "keys";
      readonly prev: readonly unknown[] | undefined;
      readonly next: readonly unknown[] | undefined;
    };

interface BoundaryOptions {
  readonly children?: ReactNode;
  /**
   * Called with each value the boundary catches, and where React was
   * rendering when it was thrown. Report non-hiccup errors from here.
   */
  readonly onError?: ((error: unknown, info: ErrorInfo) => void) | undefined;
  /** Called just before the children render again after a failure. */
  readonly onReset?: ((details: ResetDetails) => void) | undefined;
  /**
   * Values the failure depends on: when any of them changes (by
   * `Object.is`) after a failure, the children render again.
   */
  readonly resetKeys?: readonly unknown[] | undefined;
  /**
   * Where the `failure` event of a caught HiccupError goes, besides the
   * reporters of the client that raised it; also given to the default modal.
   */
  readonly reporters?: readonly Reporter[] | undefined;
  /** The language of the default modal. */
  readonly locale?: string | undefined;
}

/** At most one way to render a failure; with none, the failure modal opens. */
type FallbackOption =
  | {
      /** What to render instead of the children; `null` renders nothing. */
      readonly fallback: ReactNode;
      readonly fallbackRender?: never;
      readonly FallbackComponent?: never;
    }
  | {
      /** Return what to render instead of the children. */
      readonly fallbackRender: (props: FallbackProps) => ReactNode;
      readonly fallback?: never;
      readonly FallbackComponent?: never;
    }
  | {
      /** The component to render instead of the children. */
      readonly FallbackComponent: ComponentType<FallbackProps>;
      readonly fallback?: never;
      readonly fallbackRender?: never;
    }
  | {
      readonly fallback?: never;
      readonly fallbackRender?: never;
      readonly FallbackComponent?: never;
    };

/** The props of `HiccupBoundary`. */
export type HiccupBoundaryProps = BoundaryOptions & FallbackOption;

type BoundaryState =
  | { readonly didCatch: false }
  | { readonly didCatch: true; readonly error: unknown };

// The HiccupErrors a boundary has already reported: an error thrown again
// after a reset, or rethrown to an outer boundary, is one failure, not two.
const reported = new WeakSet<object>();

/**
 * Catch what the children throw while React renders them, and show a
 * fallback in their place.
 *
 * With none of `fallback`, `fallbackRender` and `FallbackComponent`, the
 * SDK's failure modal opens. It offers "Try again" when the failure allows
 * the user to retry (a HiccupError whose `retry.user` is true, or any
 * value that is not a HiccupError, such as a bug in a component), which
 * renders the children again (`onReset` gets reason `imperative-api` and
 * no args); once the user closes it, the boundary renders nothing.
 *
 * A boundary catches errors thrown while rendering, in lifecycle methods
 * and in effects of the components below it. It does not catch errors
 * thrown in event handlers, in async code outside render (a rejected
 * promise, a timer), during server rendering, or by the boundary itself
 * and its fallback; those reach the next boundary up or the page. Hand
 * such a failure over with `useShowBoundary`. A `useRequest` failure
 * reaches it only with `throwOnError`.
 *
 * A caught HiccupError is reported as a `failure` event only if no hiccup
 * client raised it (its `tryAgain` is unset), since a client reports every
 * failure it returns itself; each is reported once however often it is
 * caught. A value that is not a HiccupError cannot be an event, so it is
 * only handed to `onError`, which gets everything caught.
 */
export class HiccupBoundary extends Component<HiccupBoundaryProps, BoundaryState> {
  override state: BoundaryState = { didCatch: false };
  // The default modal's "Try again", while it runs: it succeeds once the
  // children render, and fails with what they throw if they fail again, so
  // that the modal reports a recovery only when there was one.
  private retrying: { resolve(): void; reject(error: unknown): void } | undefined;

  static getDerivedStateFromError(error: unknown): BoundaryState {
    return { didCatch: true, error };
  }

  override componentDidCatch(error: unknown, info: ErrorInfo): void {
    reportFailure(error, this.props.reporters ?? []);
    this.props.onError?.(error, info);
    this.retrying?.reject(error);
    this.retrying = undefined;
  }

  override componentDidUpdate(prevProps: HiccupBoundaryProps, prevState: BoundaryState): void {
    const prev = prevProps.resetKeys;
    const next = this.props.resetKeys;

    // Only a failure caught before this update counts: keys that changed in
    // the very render that threw must not wipe the failure out.
    if (this.state.didCatch && prevState.didCatch && !sameItems(prev, next)) {
      this.reset({ reason: "keys", prev, next });
    }
    if (!this.state.didCatch && prevState.didCatch) {
      this.retrying?.resolve();
      this.retrying = undefined;
    }
  }

  resetErrorBoundary = (...args: unknown[]): void => {
    if (this.state.didCatch) {
      this.reset({ reason: "imperative-api", args });
    }
  };

  override render(): ReactNode {
    if (!this.state.didCatch) {
      return this.props.children;
    }
    const props: FallbackProps = {
      error: this.state.error,
      resetErrorBoundary: this.resetErrorBoundary,
    };
    const { fallback, fallbackRender, FallbackComponent } = this.props;

    if (fallbackRender !== undefined) {
      return fallbackRender(props);
    }
    if (FallbackComponent !== undefined) {
      return createElement(FallbackComponent, props);
    }
    if (fallback !== undefined) {
      return fallback;
    }

    // React mounts a fallback afresh on every catch, so a failure that
    // follows "Try again" closes this modal and opens a new one.
    return createElement(FailureModal, {
      error: this.state.error,
      onRetry: this.retryFromModal,
      locale: this.props.locale,
      reporters: this.props.reporters,
    });
  }

  private reset(details: ResetDetails): void {
    this.props.onReset?.(details);
    this.setState({ didCatch: false });
  }

  private retryFromModal = (): Promise<void> =>
    new Promise((resolve, reject) => {
      this.retrying = { resolve, reject };
      this.resetErrorBoundary();
    });
}

function reportFailure(error: unknown, reporters: readonly Reporter[]): void {
  if (!isHiccupError(error) || reported.has(error)) {
    return;
  }
  reported.add(error);

  // A client sets `tryAgain` on every error it raises, once it has emitted
  // the error's `failure` event itself.
  if (error.tryAgain === undefined) {
    emit({ type: "failure", error }, [...reportersOf(error), ...reporters]);
  }
}

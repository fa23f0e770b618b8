import { useEffect, useRef, useState } from "react";

import type { Reporter } from "../events.js";
import {
  type FailureModalCloseReason,
  type FailureModalHandle,
  showFailureModal,
} from "../modal/index.js";
import { sameItems } from "./same-items.js";

/** The props of `FailureModal`. */
export interface FailureModalProps {
  /** The failure to show; a new value updates the open modal in place. */
  readonly error: unknown;
  /**
   * What "Try again" runs. Defaults to the error's own `tryAgain`, as the
   * modal's does.
   */
  readonly onRetry?: (() => Promise<unknown>) | undefined;
  /**
   * Called when the user or the modal closes it. Unmounting closes it too,
   * silently: whoever unmounted it knows.
   */
  readonly onClose?: ((reason: FailureModalCloseReason) => void) | undefined;
  /** The element to put the modal's host in. Defaults to `document.body`. */
  readonly container?: HTMLElement | undefined;
  /** The language of the copy. Defaults to the error's, else the browser's. */
  readonly locale?: string | undefined;
  /** Where the modal's events go, besides the reporters of the error's client. */
  readonly reporters?: readonly Reporter[] | undefined;
}

// One opening of the modal: its handle once it is open, what it shows, and
// whether it has closed (or was closed before it could open).
interface Shown {
  handle: FailureModalHandle | undefined;
  error: unknown;
  closed: boolean;
}

/**
 * Show the SDK's failure modal while this component is mounted.
 *
 * It renders nothing into the React tree: the modal lives in a host element
 * of its own. A new `error` updates the open modal in place. A new
 * `container`, `locale` or list of `reporters`, or giving or dropping
 * `onRetry`, closes it and opens another; the latest `onRetry` and
 * `onClose` are the ones called. Once the user has closed it, it stays
 * closed: unmount it from `onClose`.
 */
export function FailureModal(props: FailureModalProps): null {
  const { error, container, locale } = props;
  const reporters = useSameList(props.reporters);
  const hasRetry = props.onRetry !== undefined;
  const latest = useRef(props);
  const opened = useRef<Shown | undefined>(undefined);

  useEffect(() => {
    latest.current = props;
  });

  // The error is read when the modal opens but is no reason to open another:
  // the next effect updates it in place.
  useEffect(() => {
    const shown: Shown = { handle: undefined, error: undefined, closed: false };
    const open = () => {
      shown.error = latest.current.error;
      shown.handle = showFailureModal(shown.error, {
        ...(hasRetry && { onRetry: () => latest.current.onRetry?.() ?? Promise.resolve() }),
        onClose: (reason) => {
          if (!shown.closed) {
            shown.closed = true;
            latest.current.onClose?.(reason);
          }
        },
        ...(container !== undefined && { container }),
        ...(locale !== undefined && { locale }),
        ...(reporters !== undefined && { reporters }),
      });
    };
    // In development StrictMode mounts every effect, unmounts it and mounts
    // it again at once; waiting a microtask opens the modal only for the
    // mount that stays, so that it reports being shown once.
    queueMicrotask(() => {
      if (!shown.closed) {
        open();
      }
    });
    opened.current = shown;

    return () => {
      shown.closed = true;
      opened.current = undefined;
      shown.handle?.close();
    };
  }, [container, locale, reporters, hasRetry]);

  useEffect(() => {
    const shown = opened.current;
    if (shown?.handle === undefined || shown.closed || Object.is(shown.error, error)) {
      return;
    }
    shown.error = error;
    shown.handle.update(error);
  }, [error]);

  return null;
}

// Keep the list of an earlier render while it holds the same items, so that
// a list written inline in JSX does not count as a change on every render.
function useSameList<T>(list: readonly T[] | undefined): readonly T[] | undefined {
  const [kept, setKept] = useState(list);
  if (sameItems(kept, list)) {
    return kept;
  }
  setKept(list);

  return list;
}

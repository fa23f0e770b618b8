import { useCallback, useState } from "react";

/**
 * Return a function that hands a failure to the nearest error boundary.
 *
 * A boundary sees only what is thrown while React renders. Call the
 * returned function from an event handler or from async code instead, and
 * the component throws the failure in its next render, where the boundary
 * catches it. Once the boundary resets, the component mounts afresh.
 */
export function useShowBoundary(): (error: unknown) => void {
  const [failure, setFailure] = useState<{ readonly error: unknown } | undefined>(undefined);
  const showBoundary = useCallback((error: unknown) => setFailure({ error }), []);

  // Wrapped, so that even `undefined` can be thrown on purpose.
  if (failure !== undefined) {
    throw failure.error;
  }

  return showBoundary;
}

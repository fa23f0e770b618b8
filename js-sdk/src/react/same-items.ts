/**
 * Tell whether two lists hold the same values in the same order, by
 * `Object.is`, as React compares the deps of an effect. Two missing lists
 * are the same; a missing one and a present one are not.
 */
export function sameItems(
  a: readonly unknown[] | undefined,
  b: readonly unknown[] | undefined,
): boolean {
  if (a === b) {
    return true;
  }
  if (a === undefined || b === undefined || a.length !== b.length) {
    return false;
  }

  return a.every((value, i) => Object.is(value, b[i]));
}

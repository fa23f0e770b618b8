// Small helpers for the pages' markup, which is all static HTML: the
// scripts fill it in with text and never parse markup of their own.

/**
 * Return the element with `id`, checked to be a `kind`.
 *
 * @throws TypeError when the page has no such element: the markup and the
 *   script disagree, which is a bug to see at once.
 */
export function byId<T extends HTMLElement>(id: string, kind: new () => T): T {
  const found = document.getElementById(id);
  if (!(found instanceof kind)) {
    throw new TypeError(`The page has no ${kind.name} with id ${JSON.stringify(id)}.`);
  }

  return found;
}

/** Make an element with `text` as its only content. */
export function make<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  text = "",
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  element.textContent = text;

  return element;
}

/** Tell whether `value` is a plain JSON object. */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

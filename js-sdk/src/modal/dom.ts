/**
 * Create a `tag` element with `attributes`, holding `text`.
 *
 * The text is set as text, never parsed as markup, so copy from the
 * contract or from a server can hold any character.
 */
export function element<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attributes: Readonly<Record<string, string>> = {},
  text = "",
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);

  for (const [name, value] of Object.entries(attributes)) {
    node.setAttribute(name, value);
  }
  node.textContent = text;

  return node;
}

/**
 * Make the whole page but `host` inert, and return what undoes it.
 *
 * Every sibling of `host` and of each of its ancestors up to the body gets
 * the `inert` attribute, which keeps focus, clicks and assistive technology
 * out of them. Elements that were inert already are left as they were, and
 * stay inert afterwards.
 */
export function makeOthersInert(host: Element): () => void {
  const made: Element[] = [];

  for (let node = host; node !== document.body; ) {
    const parent = node.parentElement;
    if (parent === null) {
      break;
    }
    for (const sibling of Array.from(parent.children)) {
      if (sibling !== node && !sibling.hasAttribute("inert")) {
        sibling.setAttribute("inert", "");
        made.push(sibling);
      }
    }
    node = parent;
  }

  return () => {
    for (const node of made) {
      node.removeAttribute("inert");
    }
  };
}

/**
 * Keep Tab and Shift+Tab among `focusables`, wrapping at both ends.
 *
 * Between the first and the last the browser moves focus itself; from
 * anywhere else, Tab goes to the first and Shift+Tab to the last.
 */
export function wrapTab(
  event: KeyboardEvent,
  focusables: readonly HTMLElement[],
  active: Element | null,
): void {
  const first = focusables[0];
  const last = focusables.at(-1);
  if (first === undefined || last === undefined) {
    return;
  }
  const inside = active !== null && focusables.includes(active as HTMLElement);
  const atEdge = active === (event.shiftKey ? first : last);

  if (atEdge || !inside) {
    event.preventDefault();
    (event.shiftKey ? last : first).focus();
  }
}

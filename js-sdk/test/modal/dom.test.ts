// @vitest-environment happy-dom

import { afterEach, expect, describe as group, test } from "vitest";
import { element, makeOthersInert, wrapTab } from "../../src/modal/dom.js";

afterEach(() => {
  document.body.replaceChildren();
});

// <body><header/><main><aside/><section><host/></section></main></body>
function page() {
  const header = element("header");
  const main = element("main");
  const aside = element("aside");
  const section = element("section");
  const host = element("div");
  section.append(host);
  main.append(aside, section);
  document.body.append(header, main);

  return { header, main, aside, section, host };
}

group("element", () => {
  test("holds its text as text, never as markup", () => {
    const node = element("p", { class: "note" }, "<b>bold</b>");

    expect([node.className, node.textContent, node.children.length]).toEqual([
      "note",
      "<b>bold</b>",
      0,
    ]);
  });
});

group("makeOthersInert", () => {
  test("makes the siblings of the host and of each ancestor inert", () => {
    const { header, main, aside, section, host } = page();

    makeOthersInert(host);

    expect([header, main, aside, section, host].map((node) => node.inert)).toEqual([
      true,
      false,
      true,
      false,
      false,
    ]);
  });

  test("leaves the head alone", () => {
    makeOthersInert(page().host);

    expect(document.head.inert).toBe(false);
  });

  test("undoes what it did", () => {
    const { header, aside, host } = page();

    makeOthersInert(host)();

    expect([header.inert, aside.inert]).toEqual([false, false]);
  });

  test("keeps an element that was inert already inert after undoing", () => {
    const { header, aside, host } = page();
    header.inert = true;

    makeOthersInert(host)();

    expect([header.inert, aside.inert]).toEqual([true, false]);
  });
});

group("wrapTab", () => {
  type Three = [HTMLButtonElement, HTMLButtonElement, HTMLButtonElement];

  function buttons(): Three {
    const list: Three = [element("button"), element("button"), element("button")];
    document.body.append(...list);

    return list;
  }

  function tab(shift = false) {
    return new KeyboardEvent("keydown", { key: "Tab", shiftKey: shift, cancelable: true });
  }

  test("moves focus from outside the list to its first element on Tab", () => {
    const list = buttons();
    const event = tab();

    wrapTab(event, list, null);

    expect(document.activeElement).toBe(list[0]);
    expect(event.defaultPrevented).toBe(true);
  });

  test("moves focus from outside the list to its last element on Shift+Tab", () => {
    const list = buttons();

    wrapTab(tab(true), list, null);

    expect(document.activeElement).toBe(list[2]);
  });

  test("does nothing for an empty list", () => {
    const event = tab();

    wrapTab(event, [], null);

    expect(event.defaultPrevented).toBe(false);
  });
});

import { readdirSync, readFileSync } from "node:fs";
import { beforeAll, describe, expect, test, vi } from "vitest";
import {
  CODES,
  CONTRACT_VERSION,
  type CopyEntry,
  LOCALES,
  type LocaleCopy,
  SOURCE_LOCALE,
  TYPE_BASE,
} from "../src/contract.generated.js";
import { codeSpec, formatCopy, isCode, lookupCopy, registerCopy, uiCopy } from "../src/contract.js";
import { copy as en } from "../src/copy/en.generated.js";
import { copy as fr } from "../src/copy/fr.generated.js";

// The subset of contracts/errors.json these tests compare against.
interface SourceContract {
  readonly version: string;
  readonly source_locale: string;
  readonly required_locales: readonly string[];
  readonly type_base: string;
  readonly codes: Readonly<Record<string, SourceCode>>;
  readonly generic: Readonly<Record<string, { readonly copy: SourceCopy }>>;
  readonly ui: Readonly<Record<string, SourceUiText>>;
}

interface SourceCode {
  readonly status: number;
  readonly category: string;
  readonly severity: string;
  readonly client?: boolean;
  readonly field?: boolean;
  readonly deprecated?: boolean;
  readonly retry: { readonly auto: boolean; readonly user: boolean; readonly after_ms?: number };
  readonly params?: Readonly<Record<string, SourceParam>>;
  readonly copy: SourceCopy;
}

interface SourceParam {
  readonly pii: boolean;
  readonly example: string | number;
}

type SourceCopy = Readonly<Record<string, CopyEntry>>;

interface SourceUiText {
  readonly params?: Readonly<Record<string, SourceParam>>;
  readonly copy: Readonly<Record<string, string>>;
}

const SOURCE_PATH = new URL("../../contracts/errors.json", import.meta.url);
const source = JSON.parse(readFileSync(SOURCE_PATH, "utf8")) as SourceContract;
const sourceCodes = Object.entries(source.codes);
const sourceGeneric = Object.entries(source.generic);
const sourceUi = Object.entries(source.ui);

// Every generated copy module, by locale; a test below checks that none is
// missing.
const COPIES: Readonly<Record<string, LocaleCopy>> = { en, fr };

// Look a name up without the literal key types, as a client holding an
// arbitrary string from the wire would.
function entryOf<T>(table: object, key: string): T | undefined {
  return Object.hasOwn(table, key) ? (table as Record<string, T>)[key] : undefined;
}

// Collect a code's (or a category's, or a word of the dialog's) entries from
// the generated copy modules, keyed by locale, in the shape the contract
// writes them.
function bundledCopy<T>(part: (copy: LocaleCopy) => object, key: string): Record<string, T> {
  const entries = Object.entries(COPIES).map(([locale, copy]) => [
    locale,
    entryOf<T>(part(copy), key),
  ]);

  return Object.fromEntries(entries.filter(([, entry]) => entry !== undefined));
}

// A copy of the contract module that nothing has registered copy with yet.
async function freshContract(): Promise<typeof import("../src/contract.js")> {
  vi.resetModules();

  return import("../src/contract.js");
}

describe("generated tables match contracts/errors.json", () => {
  test("has the same version, source locale and type base", () => {
    expect({
      version: CONTRACT_VERSION,
      source_locale: SOURCE_LOCALE,
      type_base: TYPE_BASE,
    }).toEqual({
      version: source.version,
      source_locale: source.source_locale,
      type_base: source.type_base,
    });
  });

  test("every required locale is bundled", () => {
    expect(LOCALES).toEqual(expect.arrayContaining([...source.required_locales]));
  });

  test("has one copy module per required locale, and no other", () => {
    const modules = readdirSync(new URL("../src/copy/", import.meta.url)).filter((name) =>
      name.endsWith(".generated.ts"),
    );

    expect(modules.sort()).toEqual(
      source.required_locales.map((locale) => `${locale}.generated.ts`).sort(),
    );
    expect(Object.keys(COPIES).sort()).toEqual([...source.required_locales].sort());
  });

  test.each(Object.entries(COPIES))("names its locale in the %s module", (locale, copy) => {
    expect(copy.locale).toBe(locale);
  });

  test("has the source locale in the module registered first", () => {
    expect(en.locale).toBe(SOURCE_LOCALE);
  });

  test("has exactly the contract's codes", () => {
    expect(Object.keys(CODES).sort()).toEqual(Object.keys(source.codes).sort());
  });

  describe.each(sourceCodes)("%s", (name, code) => {
    const spec = entryOf<(typeof CODES)[keyof typeof CODES]>(CODES, name);
    const params = Object.entries(code.params ?? {});

    test("is in the generated table", () => {
      expect(spec).toBeDefined();
    });

    test("has the same status, category and severity", () => {
      expect({
        status: spec?.status,
        category: spec?.category,
        severity: spec?.severity,
      }).toEqual({ status: code.status, category: code.category, severity: code.severity });
    });

    test("has the same flags, absent ones false", () => {
      expect({
        client: spec?.client,
        field: spec?.field,
        deprecated: spec?.deprecated,
      }).toEqual({
        client: code.client ?? false,
        field: code.field ?? false,
        deprecated: code.deprecated ?? false,
      });
    });

    test("has the same retry policy, an absent wait null", () => {
      expect(spec?.retry).toEqual({
        auto: code.retry.auto,
        user: code.retry.user,
        after_ms: code.retry.after_ms ?? null,
      });
    });

    test("lists the same params in the same order", () => {
      expect(spec?.params).toEqual(params.map(([param]) => param));
    });

    test("lists the personal params", () => {
      expect(spec?.pii).toEqual(params.filter(([, param]) => param.pii).map(([param]) => param));
    });

    test("has the same copy in every locale", () => {
      expect(bundledCopy((copy) => copy.codes, name)).toStrictEqual(code.copy);
    });
  });

  test("has generic copy for exactly the contract's categories", () => {
    const categories = new Set(Object.values(COPIES).flatMap((copy) => Object.keys(copy.generic)));

    expect([...categories].sort()).toEqual(Object.keys(source.generic).sort());
  });

  test.each(sourceGeneric)("has the same generic %s copy in every locale", (category, generic) => {
    expect(bundledCopy((copy) => copy.generic, category)).toStrictEqual(generic.copy);
  });

  test.each(Object.entries(COPIES))("has exactly the contract's ui words in %s", (_, copy) => {
    expect(Object.keys(copy.ui).sort()).toEqual(Object.keys(source.ui).sort());
  });

  test.each(sourceUi)("has the same ui %s words in every locale", (key, text) => {
    expect(bundledCopy((copy) => copy.ui, key)).toStrictEqual(text.copy);
  });
});

describe.each(sourceCodes)("the contract's %s copy", (_name, code) => {
  const examples = Object.fromEntries(
    Object.entries(code.params ?? {}).map(([param, { example }]) => [param, example]),
  );

  // A template formatCopy cannot parse comes back whole, braces included.
  test.each(Object.entries(code.copy))(
    "renders in %s with the params' examples",
    (locale, copy) => {
      const texts = [copy.title, copy.message, copy.action, ...(copy.suggestions ?? [])];
      const rendered = texts.flatMap((text) =>
        text === undefined ? [] : [formatCopy(text, examples, locale)],
      );

      expect(rendered.filter((text) => /[{}]/.test(text))).toEqual([]);
    },
  );
});

describe.each(sourceUi)("the contract's ui %s words", (_key, text) => {
  const examples = Object.fromEntries(
    Object.entries(text.params ?? {}).map(([param, { example }]) => [param, example]),
  );

  test.each(Object.entries(text.copy))(
    "render in %s with the params' examples",
    (locale, words) => {
      expect(formatCopy(words, examples, locale)).not.toMatch(/[{}]/);
    },
  );
});

describe("isCode", () => {
  test.each(Object.keys(CODES))("accepts %s", (name) => {
    expect(isCode(name)).toBe(true);
  });

  test.each([
    { name: "an unknown code", value: "NOT_A_CODE" },
    { name: "a code in lower case", value: Object.keys(CODES)[0]?.toLowerCase() },
    { name: "an inherited property", value: "toString" },
    { name: "a number", value: 504 },
    { name: "null", value: null },
  ])("rejects $name", ({ value }) => {
    expect(isCode(value)).toBe(false);
  });
});

describe("codeSpec", () => {
  test("returns the generated entry", () => {
    expect(codeSpec("MODEL_TIMEOUT")).toBe(CODES.MODEL_TIMEOUT);
  });
});

describe("formatCopy", () => {
  const enNumber = new Intl.NumberFormat("en");
  const frNumber = new Intl.NumberFormat("fr");
  const seconds = "{n, plural, one {# second} other {# seconds}}";
  const frSeconds = "{n, plural, one {# seconde} other {# secondes}}";

  test.each([
    { name: "plain text", text: "Try again.", params: {}, locale: "en", want: "Try again." },
    { name: "empty text", text: "", params: {}, locale: "en", want: "" },
    {
      name: "a string param",
      text: "{model} did not finish.",
      params: { model: "writer-large" },
      locale: "en",
      want: "writer-large did not finish.",
    },
    {
      name: "a param with spaces inside the braces",
      text: "{ model } failed",
      params: { model: "m" },
      locale: "en",
      want: "m failed",
    },
    {
      name: "a number param, formatted for the locale",
      text: "Limit: {max}",
      params: { max: 2000 },
      locale: "en",
      want: "Limit: 2,000",
    },
    { name: "en one", text: seconds, params: { n: 1 }, locale: "en", want: "1 second" },
    { name: "en other for 0", text: seconds, params: { n: 0 }, locale: "en", want: "0 seconds" },
    { name: "en other for 2", text: seconds, params: { n: 2 }, locale: "en", want: "2 seconds" },
    { name: "fr one for 0", text: frSeconds, params: { n: 0 }, locale: "fr", want: "0 seconde" },
    { name: "fr one for 1", text: frSeconds, params: { n: 1 }, locale: "fr", want: "1 seconde" },
    { name: "fr other for 2", text: frSeconds, params: { n: 2 }, locale: "fr", want: "2 secondes" },
    {
      name: "a region tag uses its language's rules",
      text: frSeconds,
      params: { n: 0 },
      locale: "fr-CA",
      want: "0 seconde",
    },
    {
      name: "an exact match before the category",
      text: "{n, plural, =0 {none left} one {# left} other {# left}}",
      params: { n: 0 },
      locale: "en",
      want: "none left",
    },
    {
      name: "an exact match that is not zero",
      text: "{n, plural, =1 {just one} one {# thing} other {# things}}",
      params: { n: 1 },
      locale: "en",
      want: "just one",
    },
    {
      name: "# with grouping in en",
      text: seconds,
      params: { n: 1234 },
      locale: "en",
      want: `${enNumber.format(1234)} seconds`,
    },
    {
      name: "# with grouping in fr",
      text: frSeconds,
      params: { n: 1234 },
      locale: "fr",
      want: `${frNumber.format(1234)} secondes`,
    },
    {
      name: "a numeric string as the plural count",
      text: seconds,
      params: { n: "2" },
      locale: "en",
      want: "2 seconds",
    },
    {
      name: "a param nested in a branch",
      text: "{n, plural, one {{model} has # slot} other {{model} has # slots}}",
      params: { n: 3, model: "writer" },
      locale: "en",
      want: "writer has 3 slots",
    },
    {
      name: "a plural nested in a branch",
      text: "{a, plural, other {# and {b, plural, one {# one} other {# others}}}}",
      params: { a: 2, b: 1 },
      locale: "en",
      want: "2 and 1 one",
    },
    {
      name: "# outside a plural as text",
      text: "Ticket #{id}",
      params: { id: "A1" },
      locale: "en",
      want: "Ticket #A1",
    },
    {
      name: "typographic and plain apostrophes as text",
      text: "{model} n’a pas fini, l'autre {model}",
      params: { model: "m" },
      locale: "fr",
      want: "m n’a pas fini, l'autre m",
    },
    {
      name: "a missing param as nothing",
      text: "Hello {name}!",
      params: {},
      locale: "en",
      want: "Hello !",
    },
    {
      name: "a missing plural count as nothing",
      text: `Wait ${seconds}.`,
      params: {},
      locale: "en",
      want: "Wait .",
    },
    {
      name: "a plural count that is not a number as nothing",
      text: `Wait ${seconds}.`,
      params: { n: "soon" },
      locale: "en",
      want: "Wait .",
    },
    {
      name: "an inherited property as a missing param",
      text: "[{constructor}]",
      params: {},
      locale: "en",
      want: "[]",
    },
    {
      name: "HTML in the text as literal text",
      text: "<b>{model}</b> &amp; <script>x()</script>",
      params: { model: "m" },
      locale: "en",
      want: "<b>m</b> &amp; <script>x()</script>",
    },
    {
      name: "HTML in a param as literal text",
      text: "{model} failed",
      params: { model: '<img src=x onerror="x()">' },
      locale: "en",
      want: '<img src=x onerror="x()"> failed',
    },
    {
      name: "an underscore tag with its language's rules",
      text: frSeconds,
      params: { n: 0 },
      locale: "fr_CA",
      want: "0 seconde",
    },
    {
      name: "a malformed tag with its language's rules",
      text: frSeconds,
      params: { n: 0 },
      locale: "fr-!!",
      want: "0 seconde",
    },
    {
      name: "a malformed locale with the source locale's rules",
      text: seconds,
      params: { n: 1 },
      locale: "not a locale!",
      want: "1 second",
    },
  ])("renders $name", ({ text, params, locale, want }) => {
    expect(formatCopy(text, params, locale)).toBe(want);
  });

  test.each([
    { name: "an unclosed argument", text: "Hello {name" },
    { name: "an unclosed plural", text: "{n, plural, one {# item} other {# items}" },
    { name: "an unclosed branch", text: "{n, plural, other {# items}" },
    { name: "a stray closing brace", text: "Hello } there {name}" },
    { name: "an empty argument", text: "Hello {}" },
    { name: "a name with a space", text: "{first name}" },
    { name: "an unsupported argument type", text: "{n, number}" },
    { name: "a select argument", text: "{g, select, other {x}}" },
    { name: "a plural without other", text: "{n, plural, one {# item}}" },
    { name: "an unknown plural keyword", text: "{n, plural, lots {#} other {#}}" },
    { name: "a repeated selector", text: "{n, plural, one {a} one {b} other {c}}" },
    { name: "a selector without a branch", text: "{n, plural, one other {c}}" },
    {
      name: "plurals nested past the depth limit",
      text: `${"{n, plural, other {".repeat(5)}#${"}}".repeat(5)}`,
    },
    { name: "deep nesting from hostile input", text: "{n, plural, other {".repeat(10_000) },
  ])("returns $name unchanged", ({ text }) => {
    expect(formatCopy(text, { n: 1, name: "x", g: "x" }, "en")).toBe(text);
  });

  test("renders plurals nested up to the depth limit", () => {
    const text = `${"{n, plural, other {".repeat(4)}#${"}}".repeat(4)}`;

    expect(formatCopy(text, { n: 7 }, "en")).toBe("7");
  });
});

describe("lookupCopy", () => {
  beforeAll(() => {
    registerCopy(fr);
  });

  // Expected entries come from the copy modules, so that edits to the words
  // do not break these tests.
  test.each([
    { name: "the exact locale", locale: "fr", want: fr.codes.MODEL_TIMEOUT },
    { name: "the source locale", locale: "en", want: en.codes.MODEL_TIMEOUT },
    { name: "the language of a region tag", locale: "fr-CA", want: fr.codes.MODEL_TIMEOUT },
    { name: "the language of a script tag", locale: "fr-Latn-CH", want: fr.codes.MODEL_TIMEOUT },
    { name: "a tag in another case", locale: "FR-ca", want: fr.codes.MODEL_TIMEOUT },
    { name: "a tag with an underscore", locale: "fr_CA", want: fr.codes.MODEL_TIMEOUT },
    {
      name: "the source locale for an unbundled one",
      locale: "xx-YY",
      want: en.codes.MODEL_TIMEOUT,
    },
    { name: "the source locale for an empty tag", locale: "", want: en.codes.MODEL_TIMEOUT },
  ])("finds a known code's copy in $name", ({ locale, want }) => {
    expect(lookupCopy("MODEL_TIMEOUT", locale)).toBe(want);
  });

  test("prefers the code's copy to the generic copy", () => {
    expect(lookupCopy("MODEL_TIMEOUT", "fr", "internal")).toBe(fr.codes.MODEL_TIMEOUT);
  });

  test.each([
    { name: "the exact locale", locale: "fr", want: fr.generic.timeout },
    { name: "the language of a region tag", locale: "fr-BE", want: fr.generic.timeout },
    { name: "the source locale", locale: "xx", want: en.generic.timeout },
  ])("falls back to generic copy in $name for an unknown code", ({ locale, want }) => {
    expect(lookupCopy("NOT_A_CODE", locale, "timeout")).toBe(want);
  });

  test("returns undefined for an unknown code without a category", () => {
    expect(lookupCopy("NOT_A_CODE", "en")).toBeUndefined();
  });

  test("returns undefined for an inherited property name", () => {
    expect(lookupCopy("toString", "en")).toBeUndefined();
  });
});

describe("uiCopy", () => {
  beforeAll(() => {
    registerCopy(fr);
  });

  test.each([
    { name: "the exact locale", locale: "fr", want: fr.ui },
    { name: "the source locale", locale: "en", want: en.ui },
    { name: "the language of a region tag", locale: "fr-CA", want: fr.ui },
    { name: "a tag in another case", locale: "FR", want: fr.ui },
    { name: "a tag with an underscore", locale: "fr_BE", want: fr.ui },
    { name: "the source locale for an unbundled one", locale: "xx-YY", want: en.ui },
    { name: "the source locale for an empty tag", locale: "", want: en.ui },
  ])("finds the dialog's words in $name", ({ locale, want }) => {
    expect(uiCopy(locale)).toBe(want);
  });
});

describe("registerCopy", () => {
  test("starts with the source locale alone", async () => {
    const contract = await freshContract();

    expect(contract.uiCopy(SOURCE_LOCALE)).toStrictEqual(en.ui);
    expect(contract.lookupCopy("MODEL_TIMEOUT", SOURCE_LOCALE)).toStrictEqual(
      en.codes.MODEL_TIMEOUT,
    );
  });

  test("leaves a locale not registered to the source locale", async () => {
    const contract = await freshContract();

    expect(contract.uiCopy("fr")).toStrictEqual(en.ui);
    expect(contract.lookupCopy("MODEL_TIMEOUT", "fr")).toStrictEqual(en.codes.MODEL_TIMEOUT);
    expect(contract.lookupCopy("NOT_A_CODE", "fr", "timeout")).toStrictEqual(en.generic.timeout);
  });

  test("makes a registered locale's words found", async () => {
    const contract = await freshContract();

    contract.registerCopy(fr);

    expect(contract.uiCopy("fr-CA")).toBe(fr.ui);
    expect(contract.lookupCopy("MODEL_TIMEOUT", "fr")).toBe(fr.codes.MODEL_TIMEOUT);
  });

  test("replaces a locale registered again", async () => {
    const contract = await freshContract();
    const edited: LocaleCopy = { ...fr, ui: { ...fr.ui, close: "Fermer la fenêtre" } };

    contract.registerCopy(fr);
    contract.registerCopy(edited);

    expect(contract.uiCopy("fr").close).toBe("Fermer la fenêtre");
  });

  test("registers several locales at once", async () => {
    const contract = await freshContract();
    const edited: LocaleCopy = { ...en, ui: { ...en.ui, close: "Dismiss" } };

    contract.registerCopy(fr, edited);

    expect([contract.uiCopy("fr"), contract.uiCopy("en").close]).toStrictEqual([fr.ui, "Dismiss"]);
  });

  test.each([
    { name: "a locale the contract does not list", locale: "de", shown: '"de"' },
    { name: "a locale in another case", locale: "FR", shown: '"FR"' },
    { name: "a missing locale", locale: undefined, shown: "undefined" },
  ])("rejects $name", async ({ locale, shown }) => {
    const contract = await freshContract();
    const foreign = { ...fr, locale } as unknown as LocaleCopy;
    const expected = LOCALES.map((known) => `"${known}"`).join(", ");

    expect(() => contract.registerCopy(foreign)).toThrow(
      new TypeError(`registerCopy: locale ${shown} is not one of this contract's (${expected})`),
    );
  });

  test("registers nothing from a call with a rejected copy", async () => {
    const contract = await freshContract();
    const foreign = { ...fr, locale: "de" } as unknown as LocaleCopy;

    expect(() => contract.registerCopy(fr, foreign)).toThrow(TypeError);
    expect(contract.uiCopy("fr")).toStrictEqual(en.ui);
  });
});

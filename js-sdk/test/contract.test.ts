import { readFileSync } from "node:fs";
import { describe, expect, test } from "vitest";
import {
  CODES,
  CONTRACT_VERSION,
  COPY,
  type CopyEntry,
  GENERIC_COPY,
  LOCALES,
  type Locale,
  SOURCE_LOCALE,
  TYPE_BASE,
} from "../src/contract.generated.js";
import { codeSpec, formatCopy, isCode, lookupCopy } from "../src/contract.js";

// The subset of contracts/errors.json these tests compare against.
interface SourceContract {
  readonly version: string;
  readonly source_locale: string;
  readonly required_locales: readonly string[];
  readonly type_base: string;
  readonly codes: Readonly<Record<string, SourceCode>>;
  readonly generic: Readonly<Record<string, { readonly copy: SourceCopy }>>;
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

const SOURCE_PATH = new URL("../../contracts/errors.json", import.meta.url);
const source = JSON.parse(readFileSync(SOURCE_PATH, "utf8")) as SourceContract;
const sourceCodes = Object.entries(source.codes);
const sourceGeneric = Object.entries(source.generic);

// Look a name up without the literal key types, as a client holding an
// arbitrary string from the wire would.
function entryOf<T>(table: object, key: string): T | undefined {
  return Object.hasOwn(table, key) ? (table as Record<string, T>)[key] : undefined;
}

// Collect a code's (or a category's) entries from a generated table, keyed
// by locale, in the shape the contract writes them.
function bundledCopy(
  table: { readonly [L in Locale]: object },
  key: string,
): Record<string, CopyEntry> {
  const entries = LOCALES.map((locale) => [locale, entryOf<CopyEntry>(table[locale], key)]);

  return Object.fromEntries(entries.filter(([, entry]) => entry !== undefined));
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
      expect(bundledCopy(COPY, name)).toStrictEqual(code.copy);
    });
  });

  test("has generic copy for exactly the contract's categories", () => {
    const categories = new Set(LOCALES.flatMap((locale) => Object.keys(GENERIC_COPY[locale])));

    expect([...categories].sort()).toEqual(Object.keys(source.generic).sort());
  });

  test.each(sourceGeneric)("has the same generic %s copy in every locale", (category, generic) => {
    expect(bundledCopy(GENERIC_COPY, category)).toStrictEqual(generic.copy);
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
  // Expected entries come from the tables, so that edits to the words do not
  // break these tests.
  test.each([
    { name: "the exact locale", locale: "fr", want: COPY.fr.MODEL_TIMEOUT },
    { name: "the source locale", locale: "en", want: COPY.en.MODEL_TIMEOUT },
    { name: "the language of a region tag", locale: "fr-CA", want: COPY.fr.MODEL_TIMEOUT },
    { name: "the language of a script tag", locale: "fr-Latn-CH", want: COPY.fr.MODEL_TIMEOUT },
    { name: "a tag in another case", locale: "FR-ca", want: COPY.fr.MODEL_TIMEOUT },
    { name: "a tag with an underscore", locale: "fr_CA", want: COPY.fr.MODEL_TIMEOUT },
    {
      name: "the source locale for an unbundled one",
      locale: "xx-YY",
      want: COPY.en.MODEL_TIMEOUT,
    },
    { name: "the source locale for an empty tag", locale: "", want: COPY.en.MODEL_TIMEOUT },
  ])("finds a known code's copy in $name", ({ locale, want }) => {
    expect(lookupCopy("MODEL_TIMEOUT", locale)).toBe(want);
  });

  test("prefers the code's copy to the generic copy", () => {
    expect(lookupCopy("MODEL_TIMEOUT", "fr", "internal")).toBe(COPY.fr.MODEL_TIMEOUT);
  });

  test.each([
    { name: "the exact locale", locale: "fr", want: GENERIC_COPY.fr.timeout },
    { name: "the language of a region tag", locale: "fr-BE", want: GENERIC_COPY.fr.timeout },
    { name: "the source locale", locale: "xx", want: GENERIC_COPY.en.timeout },
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

import { readFileSync } from "node:fs";
import type { ServerResponse } from "node:http";
import { join } from "node:path";
import { problem } from "../server/harness.js";

/** The words of one code or category in one locale, as the contract holds them. */
export interface Words {
  readonly title?: string;
  readonly message: string;
  readonly action?: string;
  readonly suggestions?: readonly string[];
}

/** What these tests read of a code's entry in the contract. */
export interface CodeEntry {
  readonly status: number;
  readonly category: string;
  readonly retry: { readonly auto: boolean; readonly user: boolean; readonly after_ms?: number };
  readonly params?: Readonly<Record<string, { readonly example: string | number }>>;
  readonly copy: Readonly<Record<string, Words>>;
}

interface Contract {
  readonly codes: Readonly<Record<string, CodeEntry>>;
  readonly generic: Readonly<Record<string, { readonly copy: Readonly<Record<string, Words>> }>>;
  readonly ui: Readonly<Record<string, { readonly copy: Readonly<Record<string, string>> }>>;
}

// Read from the source of truth rather than from the generated modules, so
// that the SDK is checked against what the contract says, not against what
// it was built from. By path from the package's folder, where the tests run:
// a DOM test's import.meta.url is not a file URL.
const CONTRACT = JSON.parse(
  readFileSync(join(process.cwd(), "..", "contracts", "errors.json"), "utf8"),
) as Contract;

/** Return the contract's entry for `code`. */
export function codeEntry(code: string): CodeEntry {
  const entry = CONTRACT.codes[code];
  if (entry === undefined) {
    throw new Error(`The contract has no code ${JSON.stringify(code)}.`);
  }

  return entry;
}

/** Return the words of `code` in `locale`. */
export function codeWords(code: string, locale = "en"): Words {
  const words = codeEntry(code).copy[locale];
  if (words === undefined) {
    throw new Error(`The contract has no ${locale} copy for ${JSON.stringify(code)}.`);
  }

  return words;
}

/** Return the generic words of `category` in `locale`. */
export function genericWords(category: string, locale = "en"): Words {
  const words = CONTRACT.generic[category]?.copy[locale];
  if (words === undefined) {
    throw new Error(`The contract has no ${locale} generic copy for ${JSON.stringify(category)}.`);
  }

  return words;
}

/** Return the failure dialog's own word `key` in `locale`. */
export function uiWord(key: string, locale = "en"): string {
  const word = CONTRACT.ui[key]?.copy[locale];
  if (word === undefined) {
    throw new Error(`The contract has no ${locale} ui copy ${JSON.stringify(key)}.`);
  }

  return word;
}

/** A code's copy in one locale, and how many characters it has. */
export interface CopyChoice {
  readonly code: string;
  readonly locale: string;
  readonly length: number;
}

/**
 * Return the code and locale whose copy is the longest, among the codes a
 * server answers with (a status of 400 or more) that pass `filter`.
 */
export function longestCopy(filter: (entry: CodeEntry) => boolean): CopyChoice {
  const choices = Object.entries(CONTRACT.codes)
    .filter(([, entry]) => entry.status >= 400 && filter(entry))
    .flatMap(([code, entry]) =>
      Object.entries(entry.copy).map(([locale, words]) => ({
        code,
        locale,
        length: lengthOf(words),
      })),
    );
  const [longest] = choices.sort((a, b) => b.length - a.length);
  if (longest === undefined) {
    throw new Error("No code of the contract passes the filter.");
  }

  return longest;
}

function lengthOf(words: Words): number {
  const { title = "", message, action = "", suggestions = [] } = words;

  return [title, message, action, ...suggestions].join("").length;
}

/**
 * Answer with the envelope a server sends for `code`: the contract's status,
 * category and retry hints, and each param's example value. `members`
 * override or add to any of them.
 */
export function sendCode(
  response: ServerResponse,
  code: string,
  members: Readonly<Record<string, unknown>> = {},
): void {
  const entry = codeEntry(code);
  const params = Object.fromEntries(
    Object.entries(entry.params ?? {}).map(([name, param]) => [name, param.example]),
  );

  problem(response, entry.status, {
    code,
    category: entry.category,
    retry: entry.retry,
    params,
    ...members,
  });
}

/**
 * Render a contract template the way its grammar defines: `{name}` is the
 * param, and `{name, plural, one {...} other {...}}` picks the branch for
 * the number by the locale's plural rules, with `#` standing for it.
 *
 * This is an independent reading of the grammar, kept to what the
 * contract's copy uses (no nested plurals), so that the SDK's renderer is
 * checked against it rather than against itself.
 */
export function renderCopy(
  template: string,
  params: Readonly<Record<string, string | number>>,
  locale = "en",
): string {
  const plurals = /\{(\w+), plural,((?:\s*[=\w]+ \{[^{}]*\})+)\s*\}/g;
  const rules = new Intl.PluralRules(locale);

  return template
    .replace(plurals, (_match, name: string, branches: string) => {
      const count = Number(params[name]);
      const texts = new Map(
        Array.from(branches.matchAll(/([=\w]+) \{([^{}]*)\}/g), ([, key, text]) => [key, text]),
      );
      const text = texts.get(`=${count}`) ?? texts.get(rules.select(count)) ?? texts.get("other");

      return (text ?? "").replaceAll("#", String(count));
    })
    .replace(/\{(\w+)\}/g, (_match, name: string) => String(params[name] ?? ""));
}

import { isCode } from "./codes.js";
import {
  type Category,
  type CopyEntry,
  LOCALES,
  type Locale,
  type LocaleCopy,
  SOURCE_LOCALE,
  type UiCopy,
} from "./contract.generated.js";
// The source locale's words are always there, so every lookup finds some.
// This module must be the one of SOURCE_LOCALE; a test makes sure it is.
import { copy as sourceCopy } from "./copy/en.generated.js";

export type { LocaleCopy, UiCopy } from "./contract.generated.js";

/** Values a copy template can refer to by name. */
export type CopyParams = Readonly<Record<string, string | number>>;

export { codeSpec, isCode } from "./codes.js";

// Registered copy by lower-case locale, since tags match regardless of case.
const registry = new Map<string, LocaleCopy>([[sourceCopy.locale.toLowerCase(), sourceCopy]]);

/**
 * Make the words of some locales available to `lookupCopy` and `uiCopy`.
 *
 * Each locale's words are a module of their own, so that an app bundles only
 * the locales it serves; the source locale's are registered from the start.
 * Registering a locale again replaces its words.
 *
 * @throws TypeError when a copy is for a locale this contract does not
 *   list; then none of `copies` is registered.
 */
export function registerCopy(...copies: LocaleCopy[]): void {
  for (const copy of copies) {
    const locale: unknown = copy.locale;
    if (!LOCALES.some((known) => known === locale)) {
      const expected = LOCALES.map((known) => JSON.stringify(known)).join(", ");
      throw new TypeError(
        `registerCopy: locale ${shown(locale)} is not one of this contract's (${expected})`,
      );
    }
  }
  for (const copy of copies) {
    registry.set(copy.locale.toLowerCase(), copy);
  }
}

function shown(value: unknown): string {
  return typeof value === "string" ? JSON.stringify(value) : String(value);
}

/**
 * Find the copy users should see for `code` in `locale`.
 *
 * Locales are tried from the most specific down ("fr-CA", then "fr"), then
 * the contract's source locale, among the registered ones: a locale that was
 * never passed to `registerCopy` is skipped. A code this build does not know,
 * or one without copy in any of those locales, falls back to the generic
 * copy of `category`, through the same locales. Without a category that
 * fallback is skipped, so a caller can try other copy (such as the server's)
 * in between.
 *
 * @returns The entry, or `undefined` when nothing matches.
 */
export function lookupCopy(
  code: string,
  locale: string,
  category?: Category,
): CopyEntry | undefined {
  return findCopy(code, locale, category)?.entry;
}

/** A copy entry, and the locale it is in. */
export interface FoundCopy {
  readonly entry: CopyEntry;
  readonly locale: Locale;
}

/** Look copy up as `lookupCopy` does, and also say which locale it is in. */
export function findCopy(code: string, locale: string, category?: Category): FoundCopy | undefined {
  const copies = fallbackCopies(locale);

  if (isCode(code)) {
    const found = firstEntry(copies, (copy) => copy.codes[code]);
    if (found !== undefined) {
      return found;
    }
  }
  if (category === undefined) {
    return undefined;
  }

  return firstEntry(copies, (copy) => copy.generic[category]);
}

/**
 * Choose the registered locale that best serves a user who prefers
 * `preferred`, in order (as in `navigator.languages`): the first tag with
 * registered copy, tried from the most specific subtag down, else the
 * source locale.
 */
export function negotiateLocale(preferred: readonly string[]): Locale {
  for (const tag of preferred) {
    const [best] = fallbackCopies(tag, false);
    if (best !== undefined) {
      return best.locale;
    }
  }

  return SOURCE_LOCALE;
}

/**
 * Return the words of the failure dialog itself in `locale`: its buttons,
 * labels and countdown.
 *
 * The locale is chosen as `lookupCopy` chooses it: the most specific
 * registered one, else the source locale.
 */
export function uiCopy(locale: string): UiCopy {
  const [copy] = fallbackCopies(locale);

  // fallbackCopies always ends with the source locale, which stays
  // registered; sourceCopy only satisfies the type checker.
  return (copy ?? sourceCopy).ui;
}

function firstEntry(
  copies: readonly LocaleCopy[],
  entryIn: (copy: LocaleCopy) => CopyEntry | undefined,
): FoundCopy | undefined {
  for (const copy of copies) {
    const entry = entryIn(copy);
    if (entry !== undefined) {
      return { entry, locale: copy.locale };
    }
  }

  return undefined;
}

/**
 * List the registered copies to try for `tag`, most specific first, and
 * then (unless `withSource` is false) the source locale's.
 */
function fallbackCopies(tag: string, withSource = true): LocaleCopy[] {
  const found: LocaleCopy[] = [];
  const subtags = tag.split(/[-_]/);

  for (let length = subtags.length; length > 0; length--) {
    // Language tags are case-insensitive (RFC 5646), so "FR" finds "fr".
    const copy = registry.get(subtags.slice(0, length).join("-").toLowerCase());
    if (copy !== undefined && !found.includes(copy)) {
      found.push(copy);
    }
  }
  const source = registry.get(SOURCE_LOCALE.toLowerCase());
  if (withSource && source !== undefined && !found.includes(source)) {
    found.push(source);
  }

  return found;
}

// ---------------------------------------------------------------------------
// Rendering copy templates.
//
// The contract's copy uses a small subset of ICU MessageFormat: `{name}` and
// `{name, plural, =0 {...} one {...} other {...}}`, where `#` in a branch
// stands for the number. Apostrophes are ordinary characters: the contract
// writes typographic ones and never needs ICU's quoting.

type Part = string | Argument | Plural | Count;

interface Argument {
  readonly kind: "argument";
  readonly name: string;
}

interface Plural {
  readonly kind: "plural";
  readonly name: string;
  readonly branches: ReadonlyMap<string, readonly Part[]>;
}

interface Count {
  readonly kind: "count";
}

const COUNT: Count = { kind: "count" };
const PLURAL_KEYWORDS = new Set(["zero", "one", "two", "few", "many", "other"]);
// Deep enough for any real copy, shallow enough that hostile input cannot
// exhaust the stack.
const MAX_PLURAL_DEPTH = 4;

/**
 * Render a copy template with `params`, for `locale`.
 *
 * A param the template names but `params` lacks renders as nothing. Numbers
 * are formatted for the locale, and so is `#` in a plural branch. Text that
 * is not a well-formed template is returned as it is. The result is plain
 * text, never markup: insert it as text.
 */
export function formatCopy(text: string, params: CopyParams, locale: string): string {
  const parts = new TemplateParser(text).parse();
  if (parts === undefined) {
    return text;
  }

  return new Renderer(params, locale).render(parts, undefined);
}

class TemplateParser {
  private position = 0;

  constructor(private readonly text: string) {}

  /** Parse the whole text, or return `undefined` if it is malformed. */
  parse(): Part[] | undefined {
    const parts = this.message(0);

    return this.position === this.text.length ? parts : undefined;
  }

  // Read parts up to an unmatched "}" or the end of the text; the caller
  // decides which of the two may end what it is reading.
  private message(depth: number): Part[] | undefined {
    const parts: Part[] = [];
    let literal = "";

    while (this.position < this.text.length) {
      const char = this.text.charAt(this.position);
      if (char === "}") {
        break;
      }
      if (char === "{" || (char === "#" && depth > 0)) {
        if (literal !== "") {
          parts.push(literal);
          literal = "";
        }
        const part = char === "#" ? this.count() : this.argument(depth);
        if (part === undefined) {
          return undefined;
        }
        parts.push(part);
        continue;
      }
      literal += char;
      this.position++;
    }
    if (literal !== "") {
      parts.push(literal);
    }

    return parts;
  }

  private count(): Count {
    this.position++;

    return COUNT;
  }

  private argument(depth: number): Argument | Plural | undefined {
    this.position++;
    const name = this.word(/[a-zA-Z_][a-zA-Z0-9_]*/y);
    if (name === undefined) {
      return undefined;
    }
    if (this.take("}")) {
      return { kind: "argument", name };
    }
    if (!this.take(",") || this.word(/[a-z]+/y) !== "plural" || !this.take(",")) {
      return undefined;
    }
    if (depth >= MAX_PLURAL_DEPTH) {
      return undefined;
    }

    return this.plural(name, depth + 1);
  }

  private plural(name: string, depth: number): Plural | undefined {
    const branches = new Map<string, readonly Part[]>();

    while (!this.take("}")) {
      const selector = this.word(/=\d+|[a-z]+/y);
      if (selector === undefined || branches.has(selector) || !this.isSelector(selector)) {
        return undefined;
      }
      if (!this.take("{")) {
        return undefined;
      }
      const branch = this.message(depth);
      if (branch === undefined || !this.take("}")) {
        return undefined;
      }
      branches.set(selector, branch);
    }

    return branches.has("other") ? { kind: "plural", name, branches } : undefined;
  }

  private isSelector(selector: string): boolean {
    return selector.startsWith("=") || PLURAL_KEYWORDS.has(selector);
  }

  /** Skip white space, then match `pattern` (a sticky regex) at the position. */
  private word(pattern: RegExp): string | undefined {
    this.skipSpace();
    pattern.lastIndex = this.position;
    const match = pattern.exec(this.text);
    if (match === null) {
      return undefined;
    }
    this.position = pattern.lastIndex;

    return match[0];
  }

  /** Skip white space, then consume `char` if it comes next. */
  private take(char: string): boolean {
    this.skipSpace();
    if (this.text.charAt(this.position) !== char) {
      return false;
    }
    this.position++;

    return true;
  }

  private skipSpace(): void {
    while (/\s/.test(this.text.charAt(this.position))) {
      this.position++;
    }
  }
}

class Renderer {
  private pluralRules: Intl.PluralRules | undefined;
  private numberFormat: Intl.NumberFormat | undefined;
  private readonly locale: string;

  constructor(
    private readonly params: CopyParams,
    locale: string,
  ) {
    this.locale = wellFormedLocale(locale);
  }

  /** Render `parts`; `count` is the number `#` stands for, inside a plural. */
  render(parts: readonly Part[], count: number | undefined): string {
    let text = "";

    for (const part of parts) {
      if (typeof part === "string") {
        text += part;
      } else if (part.kind === "argument") {
        text += this.argument(part.name);
      } else if (part.kind === "plural") {
        text += this.plural(part);
      } else if (count !== undefined) {
        text += this.formatNumber(count);
      }
    }

    return text;
  }

  private argument(name: string): string {
    const value = this.param(name);

    return typeof value === "number" ? this.formatNumber(value) : (value ?? "");
  }

  private plural(part: Plural): string {
    const value = this.param(part.name);
    const count = typeof value === "string" && value.trim() !== "" ? Number(value) : value;
    if (typeof count !== "number" || !Number.isFinite(count)) {
      return "";
    }
    this.pluralRules ??= new Intl.PluralRules(this.locale);
    const branch =
      part.branches.get(`=${count}`) ??
      part.branches.get(this.pluralRules.select(count)) ??
      part.branches.get("other") ??
      [];

    return this.render(branch, count);
  }

  // Only own properties count: "{constructor}" must not find Object's.
  private param(name: string): string | number | undefined {
    if (!Object.hasOwn(this.params, name)) {
      return undefined;
    }
    const value = this.params[name];

    return typeof value === "string" || typeof value === "number" ? value : undefined;
  }

  private formatNumber(value: number): string {
    this.numberFormat ??= new Intl.NumberFormat(this.locale);

    return this.numberFormat.format(value);
  }
}

// Intl constructors throw a RangeError on a tag that is not well formed, so
// such a tag gets its language's rules, or else the source locale's.
function wellFormedLocale(tag: string): string {
  const hyphenated = tag.replaceAll("_", "-");
  const candidates = [hyphenated, hyphenated.split("-")[0] ?? ""];

  for (const candidate of candidates) {
    try {
      const [canonical] = Intl.getCanonicalLocales(candidate);
      if (canonical !== undefined) {
        return canonical;
      }
    } catch {
      // Not well formed: try the next candidate.
    }
  }

  return SOURCE_LOCALE;
}

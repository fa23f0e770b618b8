import {
  type Category,
  CODES,
  COPY,
  type Code,
  type CodeSpec,
  type CopyEntry,
  GENERIC_COPY,
  LOCALES,
  type Locale,
  SOURCE_LOCALE,
} from "./contract.generated.js";

/** Values a copy template can refer to by name. */
export type CopyParams = Readonly<Record<string, string | number>>;

/** Tell whether `value` is a code this build of the contract knows. */
export function isCode(value: unknown): value is Code {
  return typeof value === "string" && Object.hasOwn(CODES, value);
}

/** Return the status, category, retry policy and params of a known code. */
export function codeSpec(code: Code): CodeSpec {
  return CODES[code];
}

/**
 * Find the copy users should see for `code` in `locale`.
 *
 * Locales are tried from the most specific down ("fr-CA", then "fr"), then
 * the contract's source locale. A code this build does not know, or one
 * without copy in any of those locales, falls back to the generic copy of
 * `category`, through the same locales. Without a category that fallback is
 * skipped, so a caller can try other copy (such as the server's) in between.
 *
 * @returns The entry, or `undefined` when nothing matches.
 */
export function lookupCopy(
  code: string,
  locale: string,
  category?: Category,
): CopyEntry | undefined {
  const locales = fallbackLocales(locale);

  if (isCode(code)) {
    const entry = firstEntry(locales, (candidate) => COPY[candidate][code]);
    if (entry !== undefined) {
      return entry;
    }
  }
  if (category === undefined) {
    return undefined;
  }

  return firstEntry(locales, (candidate) => GENERIC_COPY[candidate][category]);
}

function firstEntry(
  locales: readonly Locale[],
  entryIn: (locale: Locale) => CopyEntry | undefined,
): CopyEntry | undefined {
  for (const locale of locales) {
    const entry = entryIn(locale);
    if (entry !== undefined) {
      return entry;
    }
  }

  return undefined;
}

/** List the bundled locales to try for `tag`, most specific first. */
function fallbackLocales(tag: string): Locale[] {
  const found: Locale[] = [];
  const subtags = tag.split(/[-_]/);

  for (let length = subtags.length; length > 0; length--) {
    const locale = bundledLocale(subtags.slice(0, length).join("-"));
    if (locale !== undefined && !found.includes(locale)) {
      found.push(locale);
    }
  }
  const source = bundledLocale(SOURCE_LOCALE);
  if (source !== undefined && !found.includes(source)) {
    found.push(source);
  }

  return found;
}

// Language tags are case-insensitive (RFC 5646), so "FR" finds "fr".
function bundledLocale(tag: string): Locale | undefined {
  const wanted = tag.toLowerCase();

  return LOCALES.find((locale) => locale.toLowerCase() === wanted);
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

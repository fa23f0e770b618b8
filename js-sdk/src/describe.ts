import type { Category } from "./contract.generated.js";
import { type CopyParams, findCopy, formatCopy, isCode, negotiateLocale } from "./contract.js";
import { isHiccupError } from "./errors/hiccup-error.js";

/** The words to show a user for a failure, ready to insert as text. */
export interface Description {
  readonly title: string;
  readonly message: string;
  /** Label of the button that resolves the failure, when the copy has one. */
  readonly action: string | undefined;
  readonly suggestions: readonly string[];
  /** The locale the words are in. */
  readonly locale: string;
}

// What a value that is not a HiccupError is described as: something went
// wrong on our side, which is all a user can be told about it.
const UNKNOWN_CATEGORY: Category = "internal";

/**
 * Return the words a user should see for `error`.
 *
 * The bundled contract is tried first, by the error's code; then the copy
 * the server rendered (the envelope's `user` member); then the contract's
 * generic copy for the error's category. Values that are not a HiccupError
 * (a bug in the page, say) get the generic copy for internal failures. The
 * `title`, `detail` and message of an error are never used: they are for
 * developers.
 *
 * @param locale The language to describe it in. Defaults to the locale of
 *   the client that raised the error, else the first of the browser's
 *   preferred languages that has registered copy. Either way, the source
 *   locale stands in for a locale without registered copy.
 */
export function describe(error: unknown, locale?: string): Description {
  const known = isHiccupError(error) ? error : undefined;
  const wanted = locale ?? known?.locale;
  const resolved = negotiateLocale(wanted === undefined ? preferredLocales() : [wanted]);
  const params = known?.params ?? {};
  const code = known?.code ?? "";

  const bundled = isCode(code) ? findCopy(code, resolved) : undefined;
  if (bundled !== undefined) {
    return render(bundled.entry, params, bundled.locale);
  }
  if (known?.user !== undefined) {
    return render(known.user, {}, known.user.locale);
  }
  // A category this build does not know (a newer server's) gets the words
  // for internal failures, which suit anything. Generic copy exists for
  // every category in the source locale at least: the linter requires it.
  const generic =
    findCopy("", resolved, known?.category ?? UNKNOWN_CATEGORY) ??
    findCopy("", resolved, UNKNOWN_CATEGORY);

  return render(generic?.entry ?? { message: "" }, params, generic?.locale ?? resolved);
}

interface Words {
  readonly title?: string | undefined;
  readonly message: string;
  readonly action?: string | undefined;
  readonly suggestions?: readonly string[] | undefined;
}

function render(words: Words, params: CopyParams, locale: string): Description {
  const format = (text: string) => formatCopy(text, params, locale);

  return {
    title: format(words.title ?? ""),
    message: format(words.message),
    action: words.action === undefined ? undefined : format(words.action),
    suggestions: (words.suggestions ?? []).map(format),
    locale,
  };
}

/** Return the user's preferred languages, most preferred first, as the browser lists them. */
export function preferredLocales(): readonly string[] {
  const nav = globalThis.navigator as Navigator | undefined;
  if (nav?.languages !== undefined && nav.languages.length > 0) {
    return nav.languages;
  }

  return nav?.language === undefined ? [] : [nav.language];
}

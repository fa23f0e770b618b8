// What both pages share: the locale, the client, Sentry, and how a failed
// user action reaches the failure modal.

import { addBreadcrumb, captureException, init } from "@sentry/browser";
import {
  type Client,
  type ClientOptions,
  createClient,
  type FailureModalOptions,
  LOCALES,
  type Locale,
  negotiateLocale,
  type Reporter,
  registerCopy,
  showFailureModal,
} from "hiccup";
import { copy as fr } from "hiccup/copy/fr";
import { beaconReporter, sentryReporter } from "hiccup/reporters";
import { LANGUAGE_NAMES } from "./copy";
import { make } from "./dom";

// Before anything describes a failure, so that the first one a French
// reader meets is already in French.
registerCopy(fr);

const LOCALE_KEY = "hiccup-demo-locale";

/** What the server says about the page, from GET /api/config. */
interface Config {
  readonly sentry_dsn: string | null;
  readonly release: string;
  readonly environment: string;
  /** Where the server takes the SDK's records, if it does. */
  readonly reports_path: string | null;
}

/** The locale a page speaks in, and a client whose failures speak it too. */
export interface Session {
  readonly locale: Locale;
  readonly client: Client;
  /** The client's options, for making others like it. */
  readonly options: ClientOptions;
}

/** A part of a page that can write its words again after a change of locale. */
export interface Section {
  localize(): void;
}

/**
 * Choose the page's locale: the reader's last choice, else the best match
 * for the browser's languages.
 *
 * It is chosen before the page's settings arrive, so that the page has its
 * words at once, even when the server is slow.
 */
export function chooseLocale(): Locale {
  return storedLocale() ?? negotiateLocale(navigator.languages);
}

/**
 * Read the page's settings and return the reporters they ask for: Sentry's,
 * when the server names a project, and the server's own record endpoint,
 * which counts what users saw (failures, retries, modals) for its metrics.
 *
 * A page that cannot read its settings still works, without Sentry, so that
 * failure is not shown to the user.
 */
export async function loadReporters(): Promise<readonly Reporter[]> {
  const config = await createClient()
    .json<Config>("/api/config")
    .catch(() => undefined);

  if (config === undefined) {
    return [];
  }
  const reporters: Reporter[] = [];
  if (config.sentry_dsn) {
    reporters.push(startSentry(config, config.sentry_dsn));
  }
  if (config.reports_path) {
    reporters.push(
      beaconReporter(config.reports_path, {
        service: "hiccup-demo-web",
        version: config.release,
        env: config.environment,
      }),
    );
  }

  return reporters;
}

function startSentry(config: Config, dsn: string): Reporter {
  init({
    dsn,
    release: config.release,
    environment: config.environment,
    // Version 11 replaced sendDefaultPii with these switches, whose
    // defaults collect more than `sendDefaultPii: false` did: everything
    // that can hold personal data is turned off one by one.
    dataCollection: {
      userInfo: false,
      cookies: false,
      httpHeaders: false,
      httpBodies: [],
      urlQueryParams: false,
    },
  });

  // The two functions the reporter calls rather than the whole namespace,
  // which would keep every integration of the SDK in the bundle.
  return sentryReporter({ addBreadcrumb, captureException });
}

/** Make the session for `locale`, with one client for all of the page's calls. */
export function openSession(locale: Locale, reporters: readonly Reporter[]): Session {
  const options: ClientOptions = { idempotencyKeys: true, locale, reporters };

  return { locale, client: createClient(options), options };
}

/**
 * Offer every locale in `picker` with `locale` selected; when the reader
 * picks another, remember it for their next visit and call `onPick`.
 */
export function offerLocales(
  picker: HTMLSelectElement,
  locale: Locale,
  onPick: (locale: Locale) => void,
): void {
  picker.replaceChildren(
    ...LOCALES.map((each) => {
      const option = make("option", LANGUAGE_NAMES[each]);
      option.value = each;
      option.lang = each;

      return option;
    }),
  );
  picker.value = locale;
  picker.addEventListener("change", () => {
    if (isLocale(picker.value)) {
      storeLocale(picker.value);
      onPick(picker.value);
    }
  });
}

function storeLocale(locale: Locale): void {
  try {
    localStorage.setItem(LOCALE_KEY, locale);
  } catch {
    // Storage can be off (private windows, strict settings); the choice
    // then lasts as long as the page.
  }
}

function storedLocale(): Locale | undefined {
  try {
    const stored = localStorage.getItem(LOCALE_KEY);

    return isLocale(stored) ? stored : undefined;
  } catch {
    return undefined;
  }
}

/** Tell whether `value` is a locale the contract has copy for. */
export function isLocale(value: unknown): value is Locale {
  return LOCALES.some((locale) => locale === value);
}

/**
 * Run `action`, something the user asked for, and show its failure in the
 * failure modal.
 *
 * "Try again" runs the whole action again rather than only the request
 * that failed: an action may make several requests, and the work after
 * them has to run too.
 */
export async function perform(
  action: () => Promise<void>,
  options: Omit<FailureModalOptions, "onRetry">,
): Promise<void> {
  try {
    await action();
  } catch (error: unknown) {
    showFailureModal(error, { ...options, onRetry: action });
  }
}

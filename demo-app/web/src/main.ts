// The writer page: write a draft from a prompt, watch the dashboard, save
// drafts and summarise them, in English or French.

import type { Locale, Reporter } from "hiccup";
import { isCopyKey, text } from "./copy";
import { mountDashboard } from "./dashboard";
import { byId } from "./dom";
import { mountDrafts } from "./drafts";
import { mountJobs } from "./jobs";
import {
  chooseLocale,
  loadReporters,
  offerLocales,
  openSession,
  perform,
  type Section,
} from "./setup";
import { mountWriter } from "./writer";

// Until the page's settings arrive there are no reporters; a client made
// now lets the page show its words and take input at once.
let reporters: readonly Reporter[] = [];
let session = openSession(chooseLocale(), reporters);
const now = () => session;

const dashboard = mountDashboard(now);
const drafts = mountDrafts(now);
const sections: readonly Section[] = [mountWriter(now), dashboard, drafts, mountJobs(now)];

function localize(locale: Locale): void {
  document.documentElement.lang = locale;
  document.title = text(locale, "page.title");
  for (const element of document.querySelectorAll<HTMLElement>("[data-copy]")) {
    const key = element.dataset["copy"];
    if (isCopyKey(key)) {
      element.textContent = text(locale, key);
    }
  }
  for (const section of sections) {
    section.localize();
  }
}

offerLocales(byId("locale", HTMLSelectElement), session.locale, (locale) => {
  // A new client, so that its failures are described in the new locale.
  session = openSession(locale, reporters);
  localize(locale);
});
localize(session.locale);

reporters = await loadReporters();
session = openSession(session.locale, reporters);
await perform(
  async () => {
    await Promise.all([dashboard.load(), drafts.load()]);
  },
  { locale: session.locale },
);

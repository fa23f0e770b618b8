// The words of the writer page itself. Failure copy comes from the
// contract through the SDK; only the page's own labels live here.

import type { Locale } from "hiccup";

const en = {
  "page.title": "AI writer",
  "locale.label": "Language",
  "write.heading": "Write",
  "write.prompt": "What should the draft be about?",
  "write.submit": "Write",
  "write.output": "Draft",
  "write.writing": "Writing…",
  "write.done": "The draft is ready.",
  "write.degraded": "Written by a smaller model",
  "dashboard.heading": "Dashboard",
  "dashboard.reload": "Reload the dashboard",
  "widget.usage": "Usage",
  "widget.drafts": "Drafts",
  "widget.models": "Models",
  "widget.tips": "Tips",
  "widget.retry": "Try again",
  "save.heading": "Save a draft",
  "save.title": "Title",
  "save.prompt": "Prompt",
  "save.tone": "Tone",
  "tone.plain": "Plain",
  "tone.friendly": "Friendly",
  "tone.formal": "Formal",
  "save.submit": "Save",
  "save.saved": "The draft is saved.",
  "drafts.heading": "Your drafts",
  "drafts.empty": "No drafts yet.",
  "jobs.heading": "Jobs",
  "jobs.summarise": "Summarise all drafts",
  "job.queued": "Waiting to start…",
  "job.running": "Summarising…",
  "job.done": "The summary is ready.",
  "job.failed": "The summary could not be made.",
} as const satisfies Record<string, string>;

/** The name of one of the page's words. */
export type CopyKey = keyof typeof en;

const fr: Readonly<Record<CopyKey, string>> = {
  "page.title": "Rédacteur IA",
  "locale.label": "Langue",
  "write.heading": "Rédiger",
  "write.prompt": "De quoi le brouillon doit-il parler ?",
  "write.submit": "Rédiger",
  "write.output": "Brouillon",
  "write.writing": "Rédaction en cours…",
  "write.done": "Le brouillon est prêt.",
  "write.degraded": "Rédigé par un modèle plus petit",
  "dashboard.heading": "Tableau de bord",
  "dashboard.reload": "Recharger le tableau de bord",
  "widget.usage": "Utilisation",
  "widget.drafts": "Brouillons",
  "widget.models": "Modèles",
  "widget.tips": "Conseils",
  "widget.retry": "Réessayer",
  "save.heading": "Enregistrer un brouillon",
  "save.title": "Titre",
  "save.prompt": "Consigne",
  "save.tone": "Ton",
  "tone.plain": "Neutre",
  "tone.friendly": "Amical",
  "tone.formal": "Soutenu",
  "save.submit": "Enregistrer",
  "save.saved": "Le brouillon est enregistré.",
  "drafts.heading": "Vos brouillons",
  "drafts.empty": "Aucun brouillon pour l’instant.",
  "jobs.heading": "Tâches",
  "jobs.summarise": "Résumer tous les brouillons",
  "job.queued": "En attente…",
  "job.running": "Résumé en cours…",
  "job.done": "Le résumé est prêt.",
  "job.failed": "Le résumé n’a pas pu être fait.",
};

const PAGE_COPY: Readonly<Record<Locale, Readonly<Record<CopyKey, string>>>> = { en, fr };

/** Each locale's name in its own language, for the language switch. */
export const LANGUAGE_NAMES: Readonly<Record<Locale, string>> = {
  en: "English",
  fr: "Français",
};

/** Return the page's word for `key` in `locale`. */
export function text(locale: Locale, key: CopyKey): string {
  return PAGE_COPY[locale][key];
}

/** Tell whether `value` names one of the page's words. */
export function isCopyKey(value: unknown): value is CopyKey {
  return typeof value === "string" && Object.hasOwn(en, value);
}

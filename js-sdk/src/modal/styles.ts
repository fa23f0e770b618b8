/**
 * The modal's style sheet, scoped to its shadow root.
 *
 * A page themes it through custom properties set on the host or any of its
 * ancestors: `--hiccup-bg`, `--hiccup-fg`, `--hiccup-muted`,
 * `--hiccup-accent`, `--hiccup-on-accent` (text on the accent),
 * `--hiccup-focus` (the focus ring), `--hiccup-backdrop`, `--hiccup-radius`
 * and `--hiccup-font`. Each falls back to a light or a dark default,
 * following the user's colour scheme; a page that sets one sets it for both
 * schemes, as its own dark-mode rules decide.
 *
 * No width is fixed, so the dialog fits a 320 px wide screen, and its
 * buttons wrap rather than overflow.
 */
export const STYLES = `
:host {
  all: initial;
  position: fixed;
  inset: 0;
  z-index: 2147483647;
  display: grid;
  place-items: center;
  background: var(--hiccup-backdrop, rgb(0 0 0 / 0.5));
  font: 1rem/1.5 var(--hiccup-font, system-ui, sans-serif);
  --b: var(--hiccup-bg, #fff);
  --f: var(--hiccup-fg, #1d1d22);
  --m: var(--hiccup-muted, #54545f);
  --a: var(--hiccup-accent, #1f4fd1);
  --o: var(--hiccup-on-accent, #fff);
}
@media (prefers-color-scheme: dark) {
  :host {
    --b: var(--hiccup-bg, #212228);
    --f: var(--hiccup-fg, #ededf2);
    --m: var(--hiccup-muted, #aeaeba);
    --a: var(--hiccup-accent, #93adff);
    --o: var(--hiccup-on-accent, #0e1220);
  }
}
[role="alertdialog"] {
  box-sizing: border-box;
  max-width: min(28rem, 100vw - 2rem);
  max-height: calc(100vh - 2rem);
  overflow: auto;
  padding: 1.5rem 1.5rem 0;
  border-radius: var(--hiccup-radius, 0.75rem);
  background: var(--b);
  color: var(--f);
  box-shadow: 0 0.5rem 2rem rgb(0 0 0 / 0.3);
  animation: enter 0.15s ease-out;
  overflow-wrap: anywhere;
}
@keyframes enter {
  from {
    opacity: 0;
    transform: translateY(0.5rem);
  }
}
@media (prefers-reduced-motion: reduce) {
  [role="alertdialog"] {
    animation: none;
  }
}
h2 {
  margin: 0 0 0.5rem;
  font-size: 1.25rem;
  line-height: 1.3;
}
p,
ul {
  margin: 0 0 1rem;
}
ul {
  padding-left: 1.25rem;
}
.reference {
  display: flex;
  flex-wrap: wrap;
  align-items: center;
  gap: 0.25rem 0.5rem;
  margin-bottom: 1rem;
  color: var(--m);
  font-size: 0.875rem;
}
code {
  user-select: all;
}
[aria-live]:empty {
  display: none;
}
[hidden] {
  display: none !important;
}
.actions {
  display: flex;
  flex-wrap: wrap;
  justify-content: flex-end;
  gap: 0.5rem;
  /* The buttons stay in view at the foot of a dialog that scrolls. */
  position: sticky;
  bottom: 0;
  margin: 0 -1.5rem;
  padding: 0.75rem 1.5rem 1.5rem;
  background: var(--b);
}
@media (max-width: 24rem) {
  [role="alertdialog"] {
    padding: 1rem 1rem 0;
  }
  .actions {
    margin: 0 -1rem;
    padding: 0.75rem 1rem 1rem;
  }
}
button {
  font: inherit;
  padding: 0.5rem 1rem;
  border: 1px solid var(--a);
  border-radius: 0.5rem;
  background: none;
  color: var(--a);
  cursor: pointer;
}
.reference button {
  padding: 0 0.5rem;
}
.primary {
  background: var(--a);
  color: var(--o);
}
[aria-disabled="true"] {
  opacity: 0.6;
  cursor: not-allowed;
}
:focus-visible {
  outline: 3px solid var(--hiccup-focus, var(--a));
  outline-offset: 2px;
}
`;

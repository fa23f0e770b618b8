"""A page with every code of the contract in the words users see, in every
locale, rendered with the code's examples: for writers and QA."""

from __future__ import annotations

from html import escape

from hiccup._codes import CONTRACT
from hiccup._icu import parse, render

__all__ = ["copy_page"]


def _row(name: str) -> str:
    spec = CONTRACT.codes[name]
    examples = {p: v.example for p, v in spec.params.items()}
    cells = []
    for locale in CONTRACT.required_locales:
        copy = spec.copy.get(locale)
        if copy is None:
            cells.append("<td></td>")
            continue
        parts = [
            f"<div class={field.split('[')[0]}>"
            f"{escape(render(parse(text), examples, locale))}</div>"
            for field, text in copy.texts()
        ]
        cells.append(f"<td lang={locale}>{''.join(parts)}</td>")

    return (
        f"<tr><th scope=row><code>{name}</code><br>{spec.status} {spec.category}</th>"
        f"{''.join(cells)}</tr>"
    )


def copy_page() -> str:
    """Return a page with every code's copy, rendered with its examples."""
    heads = "".join(f"<th scope=col>{loc}</th>" for loc in CONTRACT.required_locales)
    rows = "".join(_row(name) for name in CONTRACT.codes)

    return f"""<!doctype html>
<html lang=en><meta charset=utf-8><title>hiccup demo</title>
<style>
body{{font:15px/1.45 system-ui,sans-serif;margin:2rem;color:#1d2330}}
table{{border-collapse:collapse}} td,th{{border-top:1px solid #dde;padding:.5rem;
vertical-align:top;text-align:left;max-width:34rem}}
.title{{font-weight:600}} .action{{color:#2557d6}} .suggestions{{color:#566}}
</style>
<h1>hiccup demo</h1>
<p>Contract {escape(CONTRACT.version)}: every code, with the words people see.</p>
<table><tr><th scope=col>code</th>{heads}</tr>{rows}</table>
"""

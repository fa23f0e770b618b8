"""Python and TypeScript tables generated from a contract.

The output depends on the contract alone (its order included), so running the
generator twice gives the same bytes, and a one-word change in the copy
changes one line of each table.

The TypeScript copy is split by locale, one module each, so that a browser
bundle carries the words of the locales its app serves and no others.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from .._spec import CATEGORIES, UI_KEYS, CodeSpec, Contract, Copy, Param, UiText

__all__ = [
    "GeneratedFile",
    "python_source",
    "typescript_copy_source",
    "typescript_source",
    "write_outputs",
]

_PY_TYPES = {"string": "str", "integer": "int", "number": "float"}
_TS_TYPES = {"string": "string", "integer": "number", "number": "number"}
_SEVERITIES = ("critical", "error", "info", "warning")
# The copy modules are checked by Biome, unlike the tables, so they are
# written the way it formats them: this is its line width in js-sdk.
_TS_WIDTH = 100


def _q(text: str) -> str:
    """Quote a string the same way for Python and TypeScript."""
    return json.dumps(text, ensure_ascii=False)


def _camel(code: str) -> str:
    return "".join(part.capitalize() for part in code.split("_"))


def _py_copy(copy: Copy, indent: str, key: str) -> Iterator[str]:
    yield f"{indent}{key}: Copy("
    yield f"{indent}    message={_q(copy.message)},"
    if copy.title is not None:
        yield f"{indent}    title={_q(copy.title)},"
    if copy.action is not None:
        yield f"{indent}    action={_q(copy.action)},"
    if copy.suggestions:
        items = "".join(f"{_q(s)}, " for s in copy.suggestions).rstrip()
        yield f"{indent}    suggestions=({items}),"
    yield f"{indent}),"


def _py_copies(copies: Mapping[str, Copy], indent: str) -> Iterator[str]:
    for locale, copy in copies.items():
        yield from _py_copy(copy, indent, _q(locale))


def _py_param(name: str, param: Param, indent: str) -> str:
    example = _q(param.example) if isinstance(param.example, str) else param.example

    return (
        f"{indent}{_q(name)}: Param({_q(param.type)}, {example}, "
        f"pii={param.pii}, description={_q(param.description)}),"
    )


def _py_ui(key: str, ui: UiText) -> Iterator[str]:
    yield f"        {_q(key)}: UiText("
    yield f"            description={_q(ui.description)},"
    yield "            copy={"
    yield from (f"                {_q(loc)}: {_q(t)}," for loc, t in ui.copy.items())
    yield "            },"
    if ui.params:
        yield "            params={"
        yield from (_py_param(n, p, " " * 16) for n, p in ui.params.items())
        yield "            },"
    yield "        ),"


def _py_spec(spec: CodeSpec) -> Iterator[str]:
    retry = spec.retry
    yield f"        {_q(spec.name)}: CodeSpec("
    yield f"            name={_q(spec.name)},"
    yield f"            status={spec.status},"
    yield f"            category={_q(spec.category)},"
    yield f"            severity={_q(spec.severity)},"
    yield (
        f"            retry=Retry(auto={retry.auto}, user={retry.user}, "
        f"after_ms={retry.after_ms}),"
    )
    yield f"            description={_q(spec.description)},"
    yield f"            owner={_q(spec.owner)},"
    yield f"            since={_q(spec.since)},"
    yield "            copy={"
    yield from _py_copies(spec.copy, "                ")
    yield "            },"
    if spec.params:
        yield "            params={"
        yield from (_py_param(n, p, " " * 16) for n, p in spec.params.items())
        yield "            },"
    for flag in ("client", "field", "deprecated"):
        if getattr(spec, flag):
            yield f"            {flag}=True,"
    if spec.replaced_by is not None:
        yield f"            replaced_by={_q(spec.replaced_by)},"
    yield "        ),"


_PROBLEM_OPTIONS = (
    "            detail: str | None = None,",
    "            headers: Mapping[str, str] | None = None,",
    "            retry_after_ms: int | None = None,",
    "            should_retry: bool | None = None,",
    "            errors: Sequence[FieldError] = (),",
    "        ) -> None: ...",
)


def _py_overload(codes: list[str], params: Mapping[str, str]) -> list[str]:
    literal = ", ".join(f"Code.{c}" for c in codes)
    return [
        "",
        "        @overload",
        "        def __init__(",
        "            self,",
        f"            code: Literal[{literal}],",
        "            /,",
        "            *,",
        *(f"            {name}: {kind}," for name, kind in params.items()),
        *_PROBLEM_OPTIONS,
    ]


def _py_signatures(contract: Contract) -> list[str]:
    raisable = [
        s for s in contract.codes.values() if not (s.client or s.field or s.deprecated)
    ]
    lines = [
        "",
        "",
        "class ProblemSignatures:",
        '    """The signatures type checkers see for ``Problem``: one per code."""',
        "",
        "    if TYPE_CHECKING:",
    ]
    for spec in raisable:
        if spec.params:
            types = {n: _PY_TYPES[p.type] for n, p in spec.params.items()}
            lines += _py_overload([spec.name], types)
    bare = [s.name for s in raisable if not s.params]
    if bare:
        lines += _py_overload(bare, {})
    lines += [
        "",
        "        def __init__(self, code: Code, /, **options: object) -> None: ...",
    ]

    return lines


def python_source(contract: Contract, source_name: str) -> str:
    """Return the ``_codes`` module for a contract."""
    with_params = [s for s in contract.codes.values() if s.params]
    names = [f"{_camel(s.name)}Params" for s in with_params]
    exports = ["CONTRACT", *sorted(["Code", "ProblemSignatures", *names])]
    lines = [
        f'"""Error codes of the hiccup contract, version {contract.version}.',
        "",
        f"Generated by ``hiccup contract gen`` from {source_name}: change the",
        "contract and run the command again rather than editing this file.",
        '"""',
        "",
        "from __future__ import annotations",
        "",
        "import enum",
        "from collections.abc import Mapping, Sequence",
        "from typing import TYPE_CHECKING, Final, Literal, TypedDict, overload",
        "",
        "from ._spec import CodeSpec, Contract, Copy, Limits, Param, Retry, UiText",
        "",
        "if TYPE_CHECKING:",
        "    from ._problem import FieldError",
        "",
        "__all__ = [" + ", ".join(_q(e) for e in exports) + "]",
        "",
        "",
        "class Code(enum.StrEnum):",
        '    """Every code of the contract."""',
        "",
        *(f"    {name} = {_q(name)}" for name in contract.codes),
    ]
    for spec in with_params:
        lines += [
            "",
            "",
            f"class {_camel(spec.name)}Params(TypedDict):",
            f'    """Params of ``{spec.name}``."""',
            "",
            *(f"    {n}: {_PY_TYPES[p.type]}" for n, p in spec.params.items()),
        ]
    lines += _py_signatures(contract)
    limits = contract.limits
    lines += [
        "",
        "",
        "CONTRACT: Final = Contract(",
        f"    version={_q(contract.version)},",
        f"    source_locale={_q(contract.source_locale)},",
        "    required_locales=("
        + "".join(f"{_q(loc)}, " for loc in contract.required_locales).rstrip()
        + "),",
        f"    type_base={_q(contract.type_base)},",
        f"    limits=Limits(title={limits.title}, message={limits.message}, "
        f"action={limits.action}, suggestion={limits.suggestion}),",
        "    codes={",
        *(line for spec in contract.codes.values() for line in _py_spec(spec)),
        "    },",
        "    generic={",
    ]
    for category, copies in contract.generic.items():
        lines.append(f"        {_q(category)}: {{")
        lines.extend(_py_copies(copies, "            "))
        lines.append("        },")
    lines += [
        "    },",
        "    ui={",
        *(line for key, ui in contract.ui.items() for line in _py_ui(key, ui)),
        "    },",
        ")",
        "",
    ]

    return "\n".join(lines)


def _ts_union(values: Iterator[str] | tuple[str, ...] | list[str]) -> list[str]:
    return [f"  | {_q(v)}" for v in values]


def _ts_spec(spec: CodeSpec) -> Iterator[str]:
    retry = spec.retry
    after = "null" if retry.after_ms is None else str(retry.after_ms)
    yield f"  {spec.name}: {{"
    yield f"    status: {spec.status},"
    yield f"    category: {_q(spec.category)},"
    yield f"    severity: {_q(spec.severity)},"
    yield f"    client: {str(spec.client).lower()},"
    yield f"    field: {str(spec.field).lower()},"
    yield f"    deprecated: {str(spec.deprecated).lower()},"
    yield (
        f"    retry: {{ auto: {str(retry.auto).lower()}, "
        f"user: {str(retry.user).lower()}, after_ms: {after} }},"
    )
    yield "    params: [" + ", ".join(map(_q, spec.params)) + "],"
    yield "    pii: [" + ", ".join(_q(n) for n in sorted(spec.pii_params)) + "],"
    yield "  },"


def _ts_params(spec: CodeSpec) -> str:
    if not spec.params:
        return f"  readonly {spec.name}: Readonly<Record<string, never>>;"
    fields = "; ".join(
        f"readonly {n}: {_TS_TYPES[p.type]}" for n, p in spec.params.items()
    )

    return f"  readonly {spec.name}: {{ {fields} }};"


def typescript_source(contract: Contract, source_name: str) -> str:
    """Return ``contract.generated.ts`` for a contract."""
    locales = ", ".join(_q(loc) for loc in contract.required_locales)
    lines = [
        f"// Generated by `hiccup contract gen` from {source_name}. Do not edit:",
        "// change the contract and run the command again.",
        "",
        f"export const CONTRACT_VERSION = {_q(contract.version)};",
        f"export const SOURCE_LOCALE = {_q(contract.source_locale)};",
        f"export const LOCALES = [{locales}] as const;",
        "export type Locale = (typeof LOCALES)[number];",
        f"export const TYPE_BASE = {_q(contract.type_base)};",
        "",
        "export const CATEGORIES = ["
        + ", ".join(_q(c) for c in sorted(CATEGORIES))
        + "] as const;",
        "export type Category = (typeof CATEGORIES)[number];",
        "",
        "export type Severity =",
        *_ts_union(_SEVERITIES),
        ";",
        "",
        "export interface RetryPolicy {",
        "  readonly auto: boolean;",
        "  readonly user: boolean;",
        "  readonly after_ms: number | null;",
        "}",
        "",
        "export interface CodeSpec {",
        "  readonly status: number;",
        "  readonly category: Category;",
        "  readonly severity: Severity;",
        "  readonly client: boolean;",
        "  readonly field: boolean;",
        "  readonly deprecated: boolean;",
        "  readonly retry: RetryPolicy;",
        "  readonly params: readonly string[];",
        "  readonly pii: readonly string[];",
        "}",
        "",
        "export interface CopyEntry {",
        "  readonly title?: string;",
        "  readonly message: string;",
        "  readonly action?: string;",
        "  readonly suggestions?: readonly string[];",
        "}",
        "",
        "export const CODES = {",
        *(line for spec in contract.codes.values() for line in _ts_spec(spec)),
        "} as const satisfies Readonly<Record<string, CodeSpec>>;",
        "",
        "export type Code = keyof typeof CODES;",
        "",
        "export interface ParamsByCode {",
        *(_ts_params(spec) for spec in contract.codes.values()),
        "}",
        "",
        "/** The words of the SDK's own failure dialog, in one locale. */",
        "export interface UiCopy {",
        *(f"  readonly {key}: string;" for key in sorted(UI_KEYS)),
        "}",
        "",
        "/**",
        " * All the words of one locale: each module in `copy/` holds one. Pass it",
        " * to `registerCopy` to make the locale available.",
        " */",
        "export interface LocaleCopy {",
        "  readonly locale: Locale;",
        "  readonly codes: { readonly [C in Code]?: CopyEntry };",
        "  readonly generic: { readonly [K in Category]?: CopyEntry };",
        "  readonly ui: UiCopy;",
        "}",
        "",
    ]

    return "\n".join(lines)


def _ts_q(text: str) -> str:
    """Quote a string for TypeScript the way Biome formats it.

    That is in double quotes, unless the text holds more of those than of
    single ones.
    """
    quoted = _q(text)
    if text.count('"') <= text.count("'"):
        return quoted
    inner = quoted[1:-1].replace('\\"', '"').replace("'", "\\'")

    return f"'{inner}'"


def _fits(line: str) -> bool:
    """Tell whether Biome would leave a line as it is.

    Biome measures the columns a line takes on screen: East Asian wide
    characters take two, combining marks none.
    """
    width = sum(
        0
        if unicodedata.combining(c)
        else 2
        if unicodedata.east_asian_width(c) in "WF"
        else 1
        for c in line
    )

    return width <= _TS_WIDTH


def _ts_property(key: str, text: str, indent: str) -> Iterator[str]:
    line = f"{indent}{key}: {_ts_q(text)},"
    if _fits(line):
        yield line
        return
    yield f"{indent}{key}:"
    yield f"{indent}  {_ts_q(text)},"


def _ts_list(key: str, items: tuple[str, ...], indent: str) -> Iterator[str]:
    line = f"{indent}{key}: [" + ", ".join(map(_ts_q, items)) + "],"
    if _fits(line):
        yield line
        return
    yield f"{indent}{key}: ["
    yield from (f"{indent}  {_ts_q(item)}," for item in items)
    yield f"{indent}],"


def _ts_copy(key: str, copy: Copy, indent: str) -> Iterator[str]:
    inner = f"{indent}  "
    yield f"{indent}{key}: {{"
    if copy.title is not None:
        yield from _ts_property("title", copy.title, inner)
    yield from _ts_property("message", copy.message, inner)
    if copy.action is not None:
        yield from _ts_property("action", copy.action, inner)
    if copy.suggestions:
        yield from _ts_list("suggestions", copy.suggestions, inner)
    yield f"{indent}}},"


def typescript_copy_source(contract: Contract, source_name: str, locale: str) -> str:
    """Return ``copy/<locale>.generated.ts``: the words of one locale."""
    lines = [
        f"// Generated by `hiccup contract gen` from {source_name}. Do not edit:",
        "// change the contract and run the command again.",
        "",
        'import type { LocaleCopy } from "../contract.generated.js";',
        "",
        "export const copy: LocaleCopy = {",
        f"  locale: {_ts_q(locale)},",
        "  codes: {",
    ]
    for spec in contract.codes.values():
        if locale in spec.copy:
            lines.extend(_ts_copy(spec.name, spec.copy[locale], "    "))
    lines += ["  },", "  generic: {"]
    for category, copies in contract.generic.items():
        if locale in copies:
            lines.extend(_ts_copy(category, copies[locale], "    "))
    lines += ["  },", "  ui: {"]
    for key, ui in contract.ui.items():
        if locale in ui.copy:
            lines.extend(_ts_property(key, ui.copy[locale], "    "))
    lines += ["  },", "};", ""]

    return "\n".join(lines)


@dataclass(frozen=True, slots=True)
class GeneratedFile:
    """A generated file and whether writing it changed anything.

    ``stale`` marks a file the contract no longer produces, such as the copy
    of a locale it dropped: it is deleted, unless only checking.
    """

    path: Path
    changed: bool
    stale: bool = False


def _write(path: Path, text: str, *, check: bool) -> GeneratedFile:
    try:
        current = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        current = None
    changed = current != text
    if changed and not check:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")

    return GeneratedFile(path, changed)


def write_outputs(
    contract: Contract,
    source_name: str,
    python_out: Path,
    typescript_out: Path,
    *,
    check: bool = False,
) -> list[GeneratedFile]:
    """Write (or, with ``check``, only compare) every generated file.

    The copy of each required locale goes to ``copy/<locale>.generated.ts``
    beside ``typescript_out``, whose types it imports. Any other
    ``*.generated.ts`` in that folder is stale and deleted, unless only
    checking; other files there are left alone.

    Returns:
        One entry per file, saying whether its content differs from what was
        on disk before, stale files last.
    """
    copy_dir = typescript_out.parent / "copy"
    outputs = [
        (python_out, python_source(contract, source_name)),
        (typescript_out, typescript_source(contract, source_name)),
        *(
            (
                copy_dir / f"{locale}.generated.ts",
                typescript_copy_source(contract, source_name, locale),
            )
            for locale in contract.required_locales
        ),
    ]
    results = [_write(path, text, check=check) for path, text in outputs]
    wanted = {path for path, _ in outputs}
    for path in sorted(copy_dir.glob("*.generated.ts")):
        if path not in wanted:
            if not check:
                path.unlink()
            results.append(GeneratedFile(path, changed=True, stale=True))

    return results

"""The small ICU MessageFormat subset that contract copy is written in.

Two forms are understood: ``{name}`` inserts a param, and
``{name, plural, =0 {...} one {...} other {...}}`` picks a branch by the
number's CLDR plural category, with ``#`` inside a branch standing for the
number. Everything else is literal text; apostrophes are plain characters,
since writers use them in ordinary words far more often than they would need
to escape a brace.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache

from babel import Locale, UnknownLocaleError
from babel.numbers import format_decimal

from ._exceptions import HiccupError

__all__ = [
    "MAX_PLURAL_DEPTH",
    "PLURAL_SELECTORS",
    "Arg",
    "IcuSyntaxError",
    "Node",
    "Plural",
    "Pound",
    "Text",
    "max_length",
    "parse",
    "placeholders",
    "plurals",
    "render",
]

#: Branch names a plural may use, besides exact matches such as ``=0``.
PLURAL_SELECTORS = frozenset({"zero", "one", "two", "few", "many", "other"})

#: Deep enough for any real copy, shallow enough that a hostile file cannot
#: exhaust the stack.
MAX_PLURAL_DEPTH = 4

_NAME = re.compile(r"[a-z][a-z0-9_]*")
_SELECTOR = re.compile(r"=\d+|[a-z]+")


class IcuSyntaxError(HiccupError):
    """Raised when copy is not valid in the ICU subset.

    ``position`` is the 0-based index of the character where parsing stopped.
    """

    def __init__(self, reason: str, position: int) -> None:
        super().__init__(f"{reason} at character {position + 1}")
        self.reason = reason
        self.position = position


@dataclass(frozen=True, slots=True)
class Text:
    """Literal text."""

    value: str


@dataclass(frozen=True, slots=True)
class Arg:
    """``{name}``: the value of a param."""

    name: str


@dataclass(frozen=True, slots=True)
class Pound:
    """``#`` inside a plural branch: the number, formatted for the locale."""


@dataclass(frozen=True, slots=True)
class Plural:
    """``{name, plural, ...}``: one branch per selector."""

    name: str
    branches: Mapping[str, tuple[Node, ...]]


Node = Text | Arg | Pound | Plural


class _Parser:
    def __init__(self, source: str) -> None:
        self.source = source
        self.pos = 0
        self.depth = 0

    def fail(self, reason: str) -> IcuSyntaxError:
        return IcuSyntaxError(reason, self.pos)

    def skip_space(self) -> None:
        while self.pos < len(self.source) and self.source[self.pos].isspace():
            self.pos += 1

    def expect(self, char: str) -> None:
        self.skip_space()
        if not self.source.startswith(char, self.pos):
            found = self.source[self.pos : self.pos + 1] or "the end"
            raise self.fail(f"expected {char!r} but found {found!r}")
        self.pos += 1

    def match(self, pattern: re.Pattern[str], what: str) -> str:
        self.skip_space()
        found = pattern.match(self.source, self.pos)
        if found is None:
            raise self.fail(f"expected {what}")
        self.pos = found.end()

        return found.group()

    def message(self, *, in_plural: bool, nested: bool) -> tuple[Node, ...]:
        nodes: list[Node] = []
        text: list[str] = []

        def flush() -> None:
            if text:
                nodes.append(Text("".join(text)))
                text.clear()

        while self.pos < len(self.source):
            char = self.source[self.pos]
            if char == "}":
                if nested:
                    break
                raise self.fail("unmatched '}'")
            if char == "{":
                flush()
                nodes.append(self.argument())
                continue
            if char == "#" and in_plural:
                flush()
                nodes.append(Pound())
            else:
                text.append(char)
            self.pos += 1
        else:
            if nested:
                raise self.fail("unclosed '{'")
        flush()

        return tuple(nodes)

    def argument(self) -> Node:
        start = self.pos
        self.pos += 1
        name = self.match(_NAME, "a param name in lower_snake_case")
        self.skip_space()
        if self.source.startswith("}", self.pos):
            self.pos += 1
            return Arg(name)
        if not self.source.startswith(",", self.pos):
            raise self.fail(f"expected '}}' to close {{{name}")
        self.pos += 1
        kind = self.match(_SELECTOR, "'plural'")
        if kind != "plural":
            raise IcuSyntaxError(
                f"unsupported argument type {kind!r}; only plural is allowed", start
            )
        self.expect(",")
        if self.depth == MAX_PLURAL_DEPTH:
            raise IcuSyntaxError(
                f"plurals nest deeper than {MAX_PLURAL_DEPTH} levels", start
            )
        self.depth += 1
        branches = self.branches()
        self.depth -= 1

        return Plural(name, branches)

    def branches(self) -> dict[str, tuple[Node, ...]]:
        branches: dict[str, tuple[Node, ...]] = {}
        while True:
            self.skip_space()
            if self.source.startswith("}", self.pos):
                self.pos += 1
                break
            if self.pos >= len(self.source):
                raise self.fail("unclosed '{'")
            start = self.pos
            selector = self.match(_SELECTOR, "a plural selector such as one or other")
            if not selector.startswith("=") and selector not in PLURAL_SELECTORS:
                raise IcuSyntaxError(f"unknown plural selector {selector!r}", start)
            if selector in branches:
                raise IcuSyntaxError(
                    f"plural selector {selector!r} appears twice", start
                )
            self.expect("{")
            branches[selector] = self.message(in_plural=True, nested=True)
            self.expect("}")
        if not branches:
            raise self.fail("a plural needs at least one branch")

        return branches


@lru_cache(maxsize=1024)
def parse(source: str) -> tuple[Node, ...]:
    """Parse copy into nodes.

    Raises:
        IcuSyntaxError: the copy is not valid in the subset.
    """
    return _Parser(source).message(in_plural=False, nested=False)


def _walk(nodes: tuple[Node, ...]) -> Iterator[Node]:
    for node in nodes:
        yield node
        if isinstance(node, Plural):
            for branch in node.branches.values():
                yield from _walk(branch)


def placeholders(nodes: tuple[Node, ...]) -> set[str]:
    """Return the names of every param the copy uses, plurals included."""
    return {n.name for n in _walk(nodes) if isinstance(n, Arg | Plural)}


def plurals(nodes: tuple[Node, ...]) -> list[Plural]:
    """Return every plural in the copy, nested ones included."""
    return [n for n in _walk(nodes) if isinstance(n, Plural)]


@lru_cache(maxsize=64)
def _locale(tag: str) -> Locale:
    try:
        return Locale.parse(tag, sep="-")
    except (UnknownLocaleError, ValueError):
        return Locale.parse("en")


def _number(value: object, locale: str) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(format_decimal(value, locale=_locale(locale)))

    return str(value)


def _branch(node: Plural, value: object, locale: str) -> tuple[Node, ...]:
    if isinstance(value, int | float) and not isinstance(value, bool):
        exact = (
            node.branches.get(f"={int(value)}") if float(value).is_integer() else None
        )
        if exact is not None:
            return exact
        category = _locale(locale).plural_form(value)
        if category in node.branches:
            return node.branches[category]

    return node.branches.get("other", ())


def render(nodes: tuple[Node, ...], params: Mapping[str, object], locale: str) -> str:
    """Render parsed copy with param values, choosing plural branches for a locale.

    A param without a value renders as nothing, so that a missing value never
    shows a brace to the user.
    """
    out: list[str] = []
    _render_into(out, nodes, params, locale, None)

    return "".join(out)


def _render_into(
    out: list[str],
    nodes: tuple[Node, ...],
    params: Mapping[str, object],
    locale: str,
    number: object,
) -> None:
    for node in nodes:
        if isinstance(node, Text):
            out.append(node.value)
        elif isinstance(node, Arg):
            out.append(_number(params.get(node.name, ""), locale))
        elif isinstance(node, Pound):
            out.append(_number(number, locale))
        else:
            value = params.get(node.name)
            _render_into(out, _branch(node, value, locale), params, locale, value)


def max_length(
    nodes: tuple[Node, ...], params: Mapping[str, object], locale: str
) -> int:
    """Return the longest rendered length over every plural branch.

    Lengths add up node by node, so the longest rendering is the sum of each
    node's longest one; this checks every branch without enumerating them.
    """
    return _max_length(nodes, params, locale, None)


def _max_length(
    nodes: tuple[Node, ...],
    params: Mapping[str, object],
    locale: str,
    number: object,
) -> int:
    total = 0
    for node in nodes:
        if isinstance(node, Text):
            total += len(node.value)
        elif isinstance(node, Arg):
            total += len(_number(params.get(node.name, ""), locale))
        elif isinstance(node, Pound):
            total += len(_number(number, locale))
        else:
            value = params.get(node.name)
            total += max(
                _max_length(branch, params, locale, value)
                for branch in node.branches.values()
            )

    return total

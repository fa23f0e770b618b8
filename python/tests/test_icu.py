from __future__ import annotations

import pytest

from hiccup._icu import (
    Arg,
    IcuSyntaxError,
    Plural,
    Pound,
    Text,
    max_length,
    parse,
    placeholders,
    plurals,
    render,
)

SECONDS = "{n, plural, =0 {now} one {in # second} other {in # seconds}}"


def test_deep_nesting_is_refused_not_a_crash() -> None:
    source = "{n, plural, other {" * 5000 + "x" + "}}" * 5000

    with pytest.raises(IcuSyntaxError, match="plurals nest deeper than 4 levels"):
        parse(source)


def test_four_levels_of_nesting_parse() -> None:
    source = "{n, plural, other {" * 4 + "x" + "}}" * 4

    assert render(parse(source), {"n": 2}, "en") == "x"


def test_plain_text_is_one_node() -> None:
    assert parse("Nothing is lost’s fine #1") == (Text("Nothing is lost’s fine #1"),)


def test_param_and_plural_parse_into_nodes() -> None:
    nodes = parse("{model}: {n, plural, one {# try} other {# tries}}")

    assert nodes == (
        Arg("model"),
        Text(": "),
        Plural(
            "n",
            {"one": (Pound(), Text(" try")), "other": (Pound(), Text(" tries"))},
        ),
    )


def test_placeholders_include_nested_params() -> None:
    nodes = parse("{n, plural, one {{who} waited} other {{who} and {other_name}}}")

    assert placeholders(nodes) == {"n", "who", "other_name"}
    assert [p.name for p in plurals(nodes)] == ["n"]


@pytest.mark.parametrize(
    ("source", "message"),
    [
        pytest.param(
            "{model", "expected '}' to close {model at character 7", id="unclosed-arg"
        ),
        pytest.param("a } b", "unmatched '}' at character 3", id="unmatched-close"),
        pytest.param(
            "{Model}",
            "expected a param name in lower_snake_case at character 2",
            id="bad-name",
        ),
        pytest.param(
            "{n, select, other {x}}",
            "unsupported argument type 'select'; only plural is allowed at character 1",
            id="select",
        ),
        pytest.param(
            "{n, plural, lots {x}}",
            "unknown plural selector 'lots' at character 13",
            id="bad-selector",
        ),
        pytest.param(
            "{n, plural, one {a} one {b}}",
            "plural selector 'one' appears twice at character 21",
            id="twice",
        ),
        pytest.param(
            "{n, plural, }",
            "a plural needs at least one branch at character 14",
            id="no-branch",
        ),
        pytest.param(
            "{n, plural, one {a}", "unclosed '{' at character 20", id="unclosed-plural"
        ),
        pytest.param(
            "{n, plural, one {a", "unclosed '{' at character 19", id="unclosed-branch"
        ),
        pytest.param(
            "{n, plural, one x",
            "expected '{' but found 'x' at character 17",
            id="branch-no-brace",
        ),
    ],
)
def test_syntax_errors_say_where(source: str, message: str) -> None:
    with pytest.raises(IcuSyntaxError) as caught:
        parse(source)

    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("locale", "n", "expected"),
    [
        pytest.param("en", 0, "now", id="exact-match-first"),
        pytest.param("en", 1, "in 1 second", id="en-one"),
        pytest.param("en", 2, "in 2 seconds", id="en-other"),
        pytest.param("fr", 1, "in 1 second", id="fr-one"),
        pytest.param("en", 1234, "in 1,234 seconds", id="en-grouping"),
        pytest.param("fr", 1234, "in 1\u202f234 seconds", id="fr-grouping"),
        pytest.param("en", 1.5, "in 1.5 seconds", id="fraction"),
    ],
)
def test_plural_picks_the_locale_branch(locale: str, n: float, expected: str) -> None:
    assert render(parse(SECONDS), {"n": n}, locale) == expected


def test_french_treats_zero_as_one() -> None:
    nodes = parse("{n, plural, one {# fichier} other {# fichiers}}")

    assert [render(nodes, {"n": n}, "fr") for n in (0, 1, 2)] == [
        "0 fichier",
        "1 fichier",
        "2 fichiers",
    ]


def test_missing_param_renders_as_nothing() -> None:
    assert render(parse("Hello {name}!"), {}, "en") == "Hello !"


def test_non_number_plural_value_takes_other() -> None:
    assert render(parse(SECONDS), {"n": "many"}, "en") == "in many seconds"


def test_unknown_locale_falls_back_to_english_rules() -> None:
    assert render(parse(SECONDS), {"n": 1}, "zz-Nope") == "in 1 second"


def test_html_in_values_stays_text() -> None:
    assert (
        render(parse("{model} failed"), {"model": "<b>x</b>"}, "en")
        == "<b>x</b> failed"
    )


def test_max_length_takes_the_longest_branch() -> None:
    nodes = parse("Wait {n, plural, one {# second} other {# seconds}} for {model}")

    assert max_length(nodes, {"n": 30, "model": "gpt"}, "en") == len(
        "Wait 30 seconds for gpt"
    )

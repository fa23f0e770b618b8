from __future__ import annotations

import pytest

from hiccup import context


def test_outside_a_request_there_are_no_ids() -> None:
    assert context.request_id() is None
    assert context.trace_id() is None
    assert dict(context.fields()) == {}


def test_bind_outside_a_request_says_what_to_do() -> None:
    with pytest.raises(context.NoRequestError, match="request_scope"):
        context.bind(user_id="u1")


def test_request_scope_sets_and_restores_ids() -> None:
    with context.request_scope(
        "job-1", trace_id="4bf92f3577b34da6a3ce929d0e0e4736"
    ) as scope:
        assert context.request_id() == "job-1"
        assert context.trace_id() == "4bf92f3577b34da6a3ce929d0e0e4736"
        assert context.current() is scope

    assert context.request_id() is None


def test_request_scope_without_id_makes_one() -> None:
    with context.request_scope():
        assert context.request_id() is not None


def test_bind_and_unbind_fields() -> None:
    with context.request_scope("r", tenant="acme"):
        context.bind(user_id="u1")
        context.unbind("tenant", "never-bound")

        assert dict(context.fields()) == {"user_id": "u1"}


def test_fields_view_is_read_only() -> None:
    with context.request_scope("r", tenant="acme"):
        view = context.fields()

        with pytest.raises(TypeError):
            view["tenant"] = "other"  # type: ignore[index]


def test_nested_scopes_restore_the_outer_one() -> None:
    with context.request_scope("outer"):
        with context.request_scope("inner"):
            assert context.request_id() == "inner"
        assert context.request_id() == "outer"

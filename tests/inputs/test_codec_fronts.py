"""A codec's declared forms choose its fronts: a kind that takes files or a query says what they need."""

from __future__ import annotations

from typing import Any

import pytest

from servekit.inputs.base import FilesForm, InputCodec, JsonForm, QueryForm


def _kind(forms: frozenset[type[Any]], **hooks: Any) -> type[InputCodec]:
    namespace: dict[str, Any] = {"forms": forms, **hooks}
    return type("NewKind", (InputCodec,), namespace)


@pytest.mark.parametrize(("form", "hook"), [(FilesForm, "file_limits"), (QueryForm, "query_type")])
def test_a_kind_that_takes_a_form_without_its_fronts_hook_is_refused_when_defined(
    form: type[Any], hook: str
) -> None:
    with pytest.raises(TypeError, match=f"takes {form.__name__} but defines no {hook}"):
        _kind(frozenset({JsonForm, form}))


def test_a_kind_with_its_hooks_or_without_those_forms_is_defined() -> None:
    _kind(frozenset({JsonForm}))
    _kind(
        frozenset({JsonForm, FilesForm, QueryForm}),
        file_limits=lambda self: None,
        query_type=lambda self: None,
    )

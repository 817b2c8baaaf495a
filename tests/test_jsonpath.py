"""JSON paths: parsing, and what a path points at (the one walk redaction and matching share)."""

from __future__ import annotations

from typing import Any

import pytest

from streamtape._jsonpath import STAR, parse_path, targets


def test_paths_parse_into_steps() -> None:
    assert parse_path("a.b[0].c") == ("a", "b", 0, "c")
    assert parse_path("items[*].x") == ("items", STAR, "x")
    assert parse_path('["dotted.key"][-1]') == ("dotted.key", -1)
    with pytest.raises(ValueError, match="offset"):
        parse_path("a..b")


def test_targets_are_the_containers_and_keys_a_path_points_at() -> None:
    doc: dict[str, Any] = {"a": {"b": [{"c": 1}, {"c": 2}, {"d": 3}]}, "k": "v"}
    found = targets(doc, parse_path("a.b[*].c"))
    assert [(c is doc["a"]["b"][i], k) for i, (c, k) in enumerate(found)] == [
        (True, "c"),
        (True, "c"),
    ]
    assert targets(doc, parse_path("a.b[-1]")) == [(doc["a"]["b"], 2)]  # index made non-negative
    assert targets(doc, parse_path("*")) == [(doc, "a"), (doc, "k")]


def test_steps_that_do_not_fit_the_document_select_nothing() -> None:
    doc = {"a": [1, 2], "s": "text"}
    for path in ("missing", "a[5]", "a.x", "s[0]", "s.x", "a[*].x"):
        assert targets(doc, parse_path(path)) == [], path


def test_all_targets_are_found_before_any_change() -> None:
    doc = {"a": {"x": 1, "y": 2}}
    for container, key in targets(doc, parse_path("a.*")):
        del container[key]  # deleting while going through them is safe
    assert doc == {"a": {}}

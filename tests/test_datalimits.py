"""Depth, alias and NUL limits on structured input (railstudio.datalimits)."""

import time

import pytest

from railstudio import datalimits

LAUGHS = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [" + ",".join([f"*{chr(97 + i)}"] * 9) + "]\n" for i in range(8)
)


def test_ordinary_documents_load():
    assert datalimits.load_yaml("a: 1\nb: [x, {c: d}]\n") == {"a": 1, "b": ["x", {"c": "d"}]}
    assert datalimits.load_json('{"a": [1, 2]}') == {"a": [1, 2]}


def test_a_few_aliases_are_fine():
    data = datalimits.load_yaml("env: &env [{name: A, value: b}]\nx: *env\ny: *env\n")
    assert data["x"] == data["y"] == [{"name": "A", "value": "b"}]


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (LAUGHS, "aliases expand the data by"),
        ("&a [*a]", "refers to itself"),
        ("[" * 101 + "]" * 101, "deeper than 100"),
        ("[" * 100_000, "nesting depth"),
        ("{a: [}", "not valid YAML"),
    ],
)
def test_yaml_over_a_limit_is_refused_quickly(text, reason):
    started = time.monotonic()
    with pytest.raises(datalimits.LimitError, match=reason):
        datalimits.load_yaml(text)
    assert time.monotonic() - started < 2


@pytest.mark.parametrize(
    ("text", "reason"),
    [("[" * 100_000 + "]" * 100_000, "deeper"), ("[" * 101 + "]" * 101, "deeper"), ("{", "JSON")],
)
def test_json_over_a_limit_is_refused(text, reason):
    with pytest.raises(datalimits.LimitError, match=reason):
        datalimits.load_json(text)


def test_nul_characters_are_found_in_keys_and_values():
    assert datalimits.find_nul({"a": ["b", {"c\x00": 1}]})
    assert datalimits.find_nul(["\x00"])
    assert not datalimits.find_nul({"a": ["b", {"c": 1}]})

"""YAML reading: values with positions, and every way a file can be refused."""

from __future__ import annotations

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from agentdesk.errors import SpecError
from agentdesk.spec.yamlpos import parse_yaml, parse_yaml_shared


def problem(text: str | bytes) -> str:
    with pytest.raises(SpecError) as caught:
        parse_yaml(text, "f.yaml")
    (only,) = caught.value.problems
    return str(only)


def test_values_and_positions() -> None:
    doc = parse_yaml("a: 1\nb:\n  - x\n  - {y: 2.5}\n", "f.yaml")
    assert doc.data == {"a": 1, "b": ["x", {"y": 2.5}]}
    assert doc.positions[("a",)] == (1, 1)
    assert doc.values[("a",)] == (1, 4)
    assert doc.positions[("b", 1)] == (4, 5)
    assert doc.positions[("b", 1, "y")] == (4, 6)
    assert doc.values[("b", 1, "y")] == (4, 9)


def test_where_falls_back_to_nearest_ancestor() -> None:
    doc = parse_yaml("a:\n  b: 1\n", "f.yaml")
    assert doc.where(("a", "b", "missing")) == (2, 3)
    assert doc.problem(("a", "zz"), "boom").line == 1


def test_block_scalar_value_starts_on_its_first_line() -> None:
    doc = parse_yaml("text: |\n    hello\n    world\n", "f.yaml")
    assert doc.values[("text",)] == (2, 5)


def test_empty_file_is_an_empty_mapping() -> None:
    assert parse_yaml("", "f.yaml").data == {}


def test_syntax_error_uses_the_parsers_mark() -> None:
    assert problem("a: [1, 2\nb: 3\n") == (
        "f.yaml:2:2: YAML syntax error: while parsing a flow sequence; "
        "expected ',' or ']', but got ':'"
    )


def test_duplicate_key() -> None:
    assert problem("a: 1\nb: 2\na: 3\n") == (
        "f.yaml:3:1: duplicate key 'a' (first defined at line 1)"
    )


def test_aliases_are_refused_so_no_alias_bomb_expands() -> None:
    bomb = 'a: &a ["x", "x"]\nb: &b [*a, *a]\nc: &c [*b, *b]\nd: [*c, *c]\n'
    assert problem(bomb) == "f.yaml:2:8: aliases (*a) are not supported here"


def test_deep_nesting() -> None:
    assert problem("a: " + "[" * 100 + "]" * 100) == "f.yaml:1:67: nested deeper than 64 levels"


def test_tabs_for_indentation() -> None:
    assert problem("a:\n  b: 1\n\tc: 2\n") == "f.yaml:3:1: tab character: YAML indents with spaces"


def test_invalid_utf8_reports_the_line() -> None:
    assert problem(b"a: 1\nb: \xff\n") == "f.yaml:2:4: invalid UTF-8 (byte offset 8)"


def test_control_characters() -> None:
    assert problem("a: \x07\n") == "f.yaml:1:4: character U+0007 is not allowed in YAML"


def test_non_string_keys() -> None:
    assert problem("a:\n  404: x\n") == (
        "f.yaml:2:3: a mapping key must be a string, got the number 404: quote it"
    )
    assert problem("on: push\n") == (
        "f.yaml:1:1: a mapping key must be a string, got a boolean (true): quote it"
    )
    assert problem("? [a]\n: 1\n") == (
        "f.yaml:1:3: a mapping key must be a string, not a mapping or a list"
    )


def test_top_level_must_be_a_mapping() -> None:
    assert problem("- 1\n- 2\n") == "f.yaml:1:1: expected a mapping at the top, got a list"


def test_tags_are_never_executed() -> None:
    assert problem("a: !!python/object/apply:os.system [ls]\n") == (
        "f.yaml:1:4: tag tag:yaml.org,2002:python/object/apply:os.system is not supported here"
    )
    assert problem("a: !!python/name:os.system\n") == (
        "f.yaml:1:4: unsupported YAML value: could not determine a constructor for the tag "
        "'tag:yaml.org,2002:python/name:os.system'"
    )


def test_one_document_per_file() -> None:
    assert problem("a: 1\n---\nb: 2\n") == (
        "f.yaml:2:1: expected one YAML document, found another '---'"
    )


def test_section_rebases_paths() -> None:
    doc = parse_yaml("x: 1\nsims:\n  crm: {latency: 2}\n", "f.yaml")
    sims = doc.section("sims")
    assert sims.data == {"crm": {"latency": 2}}
    assert sims.positions[("crm", "latency")] == (3, 9)


json_like = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=20,
)


@given(st.dictionaries(st.text(max_size=6), json_like, max_size=5))
def test_reads_what_pyyaml_reads(data: dict[str, object]) -> None:
    text = yaml.safe_dump(data)
    assert parse_yaml(text, "f.yaml").data == yaml.safe_load(text)


def test_a_shared_parse_hands_each_caller_its_own_values() -> None:
    text = b"steps:\n  - id: a\n    retry: {max_attempts: 3}\n"
    first = parse_yaml_shared(text, "pipelines/p.yaml")
    first.data["steps"][0]["retry"]["max_attempts"] = 99  # e.g. a live fault window shifted
    first.data["steps"].append({"id": "b"})
    again = parse_yaml_shared(text, "pipelines/p.yaml")
    assert again.data == {"steps": [{"id": "a", "retry": {"max_attempts": 3}}]}
    assert again.where(("steps", 0, "retry")) == (3, 5)

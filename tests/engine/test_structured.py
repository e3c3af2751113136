"""Structured output: JSON out of fenced or prose-wrapped answers, schema errors, the re-ask."""

from __future__ import annotations

from typing import Any

import pytest

from agentdesk.engine.structured import (
    MAX_ERRORS,
    InvalidSchemaError,
    OutputParseError,
    SchemaValidator,
    check_schema,
    parse_json_output,
    repair_message,
)

TRIAGE = {
    "type": "object",
    "required": ["category", "confidence"],
    "properties": {
        "category": {"enum": ["refund", "bug", "other"]},
        "confidence": {"type": "number", "minimum": 0, "maximum": 1},
        "tags": {"type": "array", "items": {"type": "string"}},
        "contact email": {"type": "string", "format": "email"},
    },
    "additionalProperties": False,
}


def parse_error(text: str) -> str:
    with pytest.raises(OutputParseError) as caught:
        parse_json_output(text)
    return caught.value.message


# --- parsing --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        '{"a": 1}',
        '  \n{"a": 1}\n  ',
        '```json\n{"a": 1}\n```',
        '```JSON\n{"a": 1}```',
        '```\n{"a": 1}\n```',
        'Here is the result:\n\n```json\n{"a": 1}\n```\nLet me know if you need more.',
        'Sure.\r\n```json\r\n{"a": 1}\r\n```',
        '```json\n{"a": 1}\n```\nand an example:\n```python\nprint(1)\n```',
    ],
)
def test_json_is_found_in_fences_and_prose(text: str) -> None:
    assert parse_json_output(text) == {"a": 1}


def test_other_json_values_parse() -> None:
    assert parse_json_output("[1, 2]") == [1, 2]
    assert parse_json_output("```\n42\n```") == 42
    assert parse_json_output('"text"') == "text"


@pytest.mark.parametrize("text", ["", "   \n ", "```json\n\n```", "```json\n   ```"])
def test_empty_answers(text: str) -> None:
    assert parse_error(text) == "empty answer"


def test_a_syntax_error_names_line_and_column() -> None:
    assert parse_error('{"a": 1 "b": 2}') == "not JSON: Expecting ',' delimiter at line 1 column 9"


def test_truncated_json_says_it_ends_early() -> None:
    assert parse_error('{"category": "refund", "conf') == (
        "not JSON: Unterminated string starting at line 1 column 24 (answer ends early)"
    )
    assert parse_error('{"a": [1, 2') == (
        "not JSON: Expecting ',' delimiter at line 1 column 12 (answer ends early)"
    )


def test_truncated_fenced_json_is_reported_as_json() -> None:
    assert parse_error('```json\n{"a": [1,') == (
        "not JSON: Expecting value at line 1 column 10 (answer ends early)"
    )


def test_prose_without_json() -> None:
    assert parse_error("I cannot help with that.") == (
        "not JSON: Expecting value at line 1 column 1"
    )


def test_two_json_blocks_are_ambiguous() -> None:
    assert parse_error("```json\n{}\n```\nor\n```json\n[]\n```") == "ambiguous: 2 fenced blocks"


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_non_standard_constants_are_refused(constant: str) -> None:
    assert parse_error(f'{{"a": {constant}}}') == f"not JSON: {constant} is not allowed"


def test_absurd_nesting_is_refused_not_crashing() -> None:
    assert parse_error("[" * 100_000 + "]" * 100_000) == "not JSON: nested too deeply"


# --- validation -----------------------------------------------------------------------------


def test_a_valid_value_has_no_errors() -> None:
    validator = SchemaValidator(TRIAGE)
    assert validator.errors({"category": "refund", "confidence": 0.9}) == []
    assert validator.is_valid({"category": "bug", "confidence": 0, "tags": []})


def test_errors_name_the_path_and_are_sorted() -> None:
    value: Any = {"category": "refunds", "confidence": 1.5, "tags": ["a", 3], "extra": True}
    assert SchemaValidator(TRIAGE).errors(value) == [
        "at $: Additional properties are not allowed ('extra' was unexpected)",
        "at $.category: 'refunds' is not one of ['refund', 'bug', 'other']",
        "at $.confidence: 1.5 is greater than the maximum of 1",
        "at $.tags[1]: 3 is not of type 'string'",
    ]


def test_missing_properties_are_reported_at_the_object() -> None:
    assert SchemaValidator(TRIAGE).errors({"category": "bug"}) == [
        "at $: 'confidence' is a required property"
    ]


def test_formats_are_not_checked_and_odd_keys_are_quoted() -> None:
    validator = SchemaValidator(TRIAGE)
    value = {"category": "bug", "confidence": 0.5, "contact email": 7}
    assert validator.errors(value) == ["at $[\"contact email\"]: 7 is not of type 'string'"]
    assert validator.errors({**value, "contact email": "not an email"}) == []


def test_errors_are_capped() -> None:
    schema = {"type": "array", "items": {"type": "string"}}
    errors = SchemaValidator(schema).errors(list(range(25)))
    assert len(errors) == MAX_ERRORS
    assert errors[-1] == "… and 16 more"


def test_long_messages_are_shortened() -> None:
    errors = SchemaValidator({"type": "string"}).errors(["x" * 1000])
    assert len(errors) == 1 and len(errors[0]) < 220 and errors[0].endswith("…")


def test_remote_refs_are_never_fetched() -> None:
    validator = SchemaValidator({"$ref": "https://example.invalid/schema.json"})
    assert validator.errors({}) == [
        "at $: schema error: cannot resolve $ref 'https://example.invalid/schema.json'"
    ]


def test_local_refs_resolve() -> None:
    schema = {"$defs": {"n": {"type": "integer"}}, "type": "array", "items": {"$ref": "#/$defs/n"}}
    assert SchemaValidator(schema).errors([1, "2"]) == ["at $[1]: '2' is not of type 'integer'"]


def test_check_schema_lists_every_problem() -> None:
    assert check_schema(TRIAGE) == []
    assert check_schema({"type": "strnig", "minimum": "0"}) == [
        "at $.minimum: '0' is not of type 'number'",
        "at $.type: 'strnig' is not valid under any of the given schemas",
    ]


def test_an_invalid_schema_is_refused_up_front() -> None:
    with pytest.raises(InvalidSchemaError) as caught:
        SchemaValidator({"type": 5})
    assert caught.value.problems == ["at $.type: 5 is not valid under any of the given schemas"]


# --- repair ---------------------------------------------------------------------------------


def test_repair_message_lists_the_errors() -> None:
    message = repair_message(["at $: 'confidence' is a required property"])
    assert message == (
        "Your previous answer was not valid:\n"
        "- at $: 'confidence' is a required property\n"
        "Answer again with only JSON that matches the schema."
    )


def test_repair_message_for_unparseable_answers() -> None:
    message = repair_message(["not JSON: Expecting value at line 1 column 1"])
    assert "- not JSON: Expecting value at line 1 column 1\n" in message
    assert repair_message([]).startswith("Your previous answer was not valid:\n- ")

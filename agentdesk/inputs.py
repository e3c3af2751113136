"""Run inputs from the command line or a JSON Lines file, checked before anything runs.

Every problem is reported at once with its place (``inputs.jsonl:3: …``), and a file with any
problem runs nothing: a batch that half-ran on bad data is worse than one that did not start.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from agentdesk.engine.structured import SchemaValidator
from agentdesk.errors import Problem, SpecError


def read_inputs(
    default: Any, input_json: str | None, inputs_file: Path | None, schema: dict[str, Any] | None
) -> list[Any]:
    if input_json is not None and inputs_file is not None:
        raise SpecError([Problem("--input", 0, 0, "give --input or --inputs, not both")])
    if inputs_file is not None:
        items = _read_lines(inputs_file)
    elif input_json is not None:
        items = [(Problem("--input", 0, 0, ""), _parse(input_json))]
    else:
        items = [(Problem("pipeline input.example", 0, 0, ""), default)]
    return _checked(items, schema)


def _read_lines(path: Path) -> list[tuple[Problem, Any]]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError([Problem(str(path), 0, 0, f"cannot read: {exc}")]) from exc
    items = [
        (Problem(str(path), number, 0, ""), _parse(line))
        for number, line in enumerate(text.splitlines(), start=1)
        if line.strip()
    ]
    if not items:
        raise SpecError([Problem(str(path), 0, 0, "no inputs (the file is empty)")])
    return items


class _Unparsed:
    def __init__(self, message: str) -> None:
        self.message = message


def _parse(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        return _Unparsed(f"not JSON: {exc.msg} at column {exc.colno}")


def _checked(items: list[tuple[Problem, Any]], schema: dict[str, Any] | None) -> list[Any]:
    validator = SchemaValidator(schema) if schema else None
    problems: list[Problem] = []
    for where, value in items:
        if isinstance(value, _Unparsed):
            problems.append(Problem(where.file, where.line, 0, value.message))
        elif validator is not None:
            problems += [
                Problem(
                    where.file,
                    where.line,
                    0,
                    f"input does not match the pipeline's input schema: {error}",
                )
                for error in validator.errors(value)
            ]
        if value is None and validator is None:
            problems.append(Problem(where.file, where.line, 0, "no input given"))
    if problems:
        raise SpecError(problems)
    return [value for _, value in items]

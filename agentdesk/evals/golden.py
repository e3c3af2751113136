"""Golden sets: JSON Lines files of cases, each an input with what its run must show.

One line, one case (blank lines are skipped)::

    {"id": "double-charge", "input": {"ticket_id": "T-1001"}, "tags": ["refund"],
     "assert": [{"kind": "json_path", "path": "$.steps.triage.category", "equals": "refund"}]}

``expected`` is a shorthand for an ``equals`` assertion on the run's output; a case with no
assertion at all checks that its run completed. ``scenarios`` limits a case to some scenarios
(a prompt-injection case means nothing where nobody injects). The format is documented in
docs/evals.md.

A golden file is untrusted input that decides whether CI passes, so it is read like every
workspace file: every problem in every line is reported at once with ``file:line:column``
(the column of the offending key or value, found by reading the line again with the
position-keeping YAML reader — JSON is YAML), and a file with any problem runs nothing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from agentdesk.engine.structured import SchemaValidator
from agentdesk.errors import Problem, SpecError
from agentdesk.evals.assertions import COMPLETED, Assertion, Equals
from agentdesk.spec.validation import suggestion, validate_document
from agentdesk.spec.yamlpos import YamlDocument, parse_yaml

_FIRST_DEFINED = re.compile(r" \(first defined at line \d+\)")


class CaseSpec(BaseModel):
    """One line of a golden file, as written."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    id: str | None = Field(None, min_length=1)
    """A name that stays with the case (reports and baselines match cases by it); default:
    ``line-N``."""
    input: Any
    """The pipeline's input, checked against its input schema."""
    expected: Any = None
    """Shorthand for ``{"kind": "equals", "value": …}`` on the run's output."""
    assert_: list[Assertion] = Field(default_factory=list, alias="assert")
    """Assertions on the answer and on the run (see ``assertions``)."""
    tags: list[str] = Field(default_factory=list)
    """Labels the report gives pass rates for (``refund``, ``injection``…)."""
    scenarios: list[str] | None = None
    """Run the case only under these scenarios (default: every scenario of the eval)."""


@dataclass(frozen=True, slots=True)
class GoldenCase:
    id: str
    input: Any
    assertions: tuple[Assertion, ...]
    tags: tuple[str, ...]
    scenarios: tuple[str, ...] | None
    line: int

    def runs_under(self, scenario: str) -> bool:
        return self.scenarios is None or scenario in self.scenarios


@dataclass(frozen=True, slots=True)
class GoldenSet:
    file: str
    """How the file is named in messages (workspace-relative when inside the workspace)."""
    cases: tuple[GoldenCase, ...]

    def cases_for(self, scenario: str) -> list[GoldenCase]:
        return [case for case in self.cases if case.runs_under(scenario)]


def load_golden(
    path: Path,
    label: str,
    input_schema: dict[str, Any] | None = None,
    scenarios: Sequence[str] | None = None,
    models: Sequence[str] | None = None,
) -> GoldenSet:
    """The golden set in ``path``; raises ``SpecError`` with every problem of every line.

    ``scenarios`` and ``models`` (when given) are the names a case's ``scenarios`` and its
    judges' ``model`` may use."""
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except OSError as exc:
        raise SpecError([Problem(label, 0, 0, f"cannot read: {exc.strerror}")]) from None
    except UnicodeDecodeError as exc:
        raise SpecError([Problem(label, 0, 0, f"invalid UTF-8: {exc.reason}")]) from None
    reader = _Reader(label, input_schema, scenarios, models)
    cases = [case for case in reader.read(text.splitlines()) if case is not None]
    if not reader.problems and not cases:
        reader.problems.append(Problem(label, 0, 0, "no cases (the file is empty)"))
    if reader.problems:
        raise SpecError(reader.problems)
    return GoldenSet(label, tuple(cases))


class _Reader:
    """Reads lines into cases, collecting the problems of all of them."""

    def __init__(
        self,
        label: str,
        input_schema: dict[str, Any] | None,
        scenarios: Sequence[str] | None,
        models: Sequence[str] | None,
    ) -> None:
        self.label = label
        self.input = SchemaValidator(input_schema) if input_schema else None
        self.scenarios = scenarios
        self.models = models
        self.problems: list[Problem] = []
        self.ids: dict[str, int] = {}

    def read(self, lines: Iterable[str]) -> Iterable[GoldenCase | None]:
        for number, line in enumerate(lines, start=1):
            if line.strip():
                yield self.case(line, number)

    def case(self, line: str, number: int) -> GoldenCase | None:
        doc = self.document(line, number)
        if doc is None:
            return None
        spec, problems = validate_document(CaseSpec.model_validate, doc, model=CaseSpec)
        self.problems += problems
        # The id, input and scenarios are checked even when an assertion is wrong: all at once.
        self.check(doc, number)
        return None if spec is None else _case(spec, number)

    def document(self, line: str, number: int) -> YamlDocument | None:
        try:
            data = json.loads(line)
        except json.JSONDecodeError as exc:
            self.problems.append(Problem(self.label, number, exc.colno, f"not JSON: {exc.msg}"))
            return None
        if not isinstance(data, dict):
            message = "expected a JSON object (one case per line)"
            self.problems.append(Problem(self.label, number, 1, message))
            return None
        return self.positions(line, number, data)

    def positions(self, line: str, number: int, data: dict[str, Any]) -> YamlDocument | None:
        """Where each key and value of the line is: JSON is YAML, whose reader keeps places."""
        try:
            doc = parse_yaml(line, self.label)
        except SpecError as exc:
            first = exc.problems[0]
            if "duplicate key" not in first.message:
                return YamlDocument(self.label, data, {(): (number, 1)})
            message = _FIRST_DEFINED.sub("", first.message)
            self.problems.append(Problem(self.label, number, first.column, message))
            return None
        on_line = {path: (number, column) for path, (_, column) in doc.positions.items()}
        values = {path: (number, column) for path, (_, column) in doc.values.items()}
        return YamlDocument(self.label, data, on_line, values)

    def check(self, doc: YamlDocument, number: int) -> None:
        data = doc.data
        case_id = data.get("id")
        case_id = case_id if isinstance(case_id, str) else f"line-{number}"
        if case_id in self.ids:
            message = f"duplicate case id '{case_id}' (first used at line {self.ids[case_id]})"
            self.problems.append(doc.problem(("id",), message, value=True))
        self.ids.setdefault(case_id, number)
        if self.input is not None and "input" in data:
            self.problems += [
                doc.problem(("input",), f"input does not match the pipeline's input schema: {e}")
                for e in self.input.errors(data["input"])
            ]
        self.check_scenarios(doc, data.get("scenarios"))
        self.check_judges(doc, data.get("assert"))

    def check_scenarios(self, doc: YamlDocument, names: Any) -> None:
        if self.scenarios is None or not isinstance(names, list):
            return
        for index, name in enumerate(names):
            if isinstance(name, str) and name not in self.scenarios:
                message = f"unknown scenario '{name}'{suggestion(name, self.scenarios)}"
                self.problems.append(doc.problem(("scenarios", index), message, value=True))

    def check_judges(self, doc: YamlDocument, assertions: Any) -> None:
        """A judge names a workspace model (or there must be one to default to)."""
        if self.models is None or not isinstance(assertions, list):
            return
        for index, item in enumerate(assertions):
            if not isinstance(item, dict) or item.get("kind") != "judge":
                continue
            model = item.get("model")
            if model is None and not self.models:
                message = "a judge needs a model and the workspace declares none"
                self.problems.append(doc.problem(("assert", index), message))
            elif isinstance(model, str) and model not in self.models:
                message = f"unknown model '{model}'{suggestion(model, self.models)}"
                self.problems.append(doc.problem(("assert", index, "model"), message, value=True))


def _case(spec: CaseSpec, line: int) -> GoldenCase:
    assertions: list[Assertion] = []
    if "expected" in spec.model_fields_set:
        assertions.append(Equals(kind="equals", value=spec.expected))
    assertions += spec.assert_
    return GoldenCase(
        id=spec.id or f"line-{line}",
        input=spec.input,
        assertions=tuple(assertions) or (COMPLETED,),
        tags=tuple(spec.tags),
        scenarios=tuple(spec.scenarios) if spec.scenarios is not None else None,
        line=line,
    )

"""The template engine: native values, strict undefined names, sandboxing, static references."""

from __future__ import annotations

from typing import Any

import pytest

from agentdesk.spec.templates import (
    Origin,
    TemplateEngine,
    TemplateRenderError,
    TemplateSyntaxProblem,
    referenced_names,
    referenced_steps,
)

CONTEXT: dict[str, Any] = {
    "input": {"ticket_id": "T-1"},
    "steps": {"ticket": {"subject": "Refund", "amount": 1250, "tags": ["a"], "meta": {"k": 1}}},
}


@pytest.fixture
def engine() -> TemplateEngine:
    return TemplateEngine()


def test_compile_value_keeps_native_types(engine: TemplateEngine) -> None:
    assert engine.compile_value("{{ steps.ticket.amount }}", "o").render(CONTEXT) == 1250
    assert engine.compile_value("  {{ steps.ticket.meta }} ", "o").render(CONTEXT) == {"k": 1}
    assert engine.compile_value("{{ steps.ticket.tags }}", "o").render(CONTEXT) == ["a"]
    assert engine.compile_value("n={{ steps.ticket.amount }}", "o").render(CONTEXT) == "n=1250"
    assert engine.compile_value("{{ 1 }}{{ 2 }}", "o").render(CONTEXT) == "12"
    assert engine.compile_value("plain", "o").render(CONTEXT) == "plain"


def test_compile_text_renders_and_keeps_trailing_newline(engine: TemplateEngine) -> None:
    template = engine.compile_text("Hi {{ input.ticket_id }}\n", "prompts/p.md")
    assert template.render(CONTEXT) == "Hi T-1\n"


def test_undefined_attribute_names_origin_and_path(engine: TemplateEngine) -> None:
    template = engine.compile_text("{{ steps.ticket.subjectx }}", "prompts/triage.user.md")
    with pytest.raises(TemplateRenderError) as caught:
        template.render(CONTEXT)
    assert str(caught.value) == "prompts/triage.user.md: 'steps.ticket' has no attribute 'subjectx'"


def test_undefined_in_a_multiline_template_names_the_line(engine: TemplateEngine) -> None:
    template = engine.compile_text("a\nb {{ steps.kb.hits }}\n", "prompts/p.md")
    with pytest.raises(TemplateRenderError) as caught:
        template.render(CONTEXT)
    assert str(caught.value) == "prompts/p.md:2: 'steps' has no attribute 'kb'"


def test_undefined_expression_value_raises_too(engine: TemplateEngine) -> None:
    value = engine.compile_value("{{ steps.ticket.nope }}", Origin("p.yaml", 7, 11, "x.path"))
    with pytest.raises(TemplateRenderError) as caught:
        value.render(CONTEXT)
    assert str(caught.value) == "p.yaml:7:11 (x.path): 'steps.ticket' has no attribute 'nope'"


def test_undefined_variable(engine: TemplateEngine) -> None:
    with pytest.raises(TemplateRenderError, match="o: 'inpt' is undefined"):
        engine.compile_value("{{ inpt.ticket_id }}", "o").render(CONTEXT)


def test_condition(engine: TemplateEngine) -> None:
    condition = engine.compile_condition("steps.ticket.amount > 1000", "o")
    assert condition.evaluate(CONTEXT) is True
    braced = engine.compile_condition("{{ steps['ticket'].amount < 10 }}", "o")
    assert braced.evaluate(CONTEXT) is False


def test_compile_json(engine: TemplateEngine) -> None:
    body = {"id": "{{ input.ticket_id }}", "cents": "{{ steps.ticket.amount }}", "n": [1, None]}
    compiled = engine.compile_json(body, "o")
    assert compiled.render(CONTEXT) == {"id": "T-1", "cents": 1250, "n": [1, None]}
    assert referenced_names(compiled) == {"input", "steps"}
    assert referenced_steps(compiled) == {"ticket"}


def test_sandbox_refuses_mutation_and_internals(engine: TemplateEngine) -> None:
    with pytest.raises(TemplateRenderError, match="unsafe"):
        engine.compile_value("{{ steps.ticket.tags.append(1) }}", "o").render(CONTEXT)
    with pytest.raises(TemplateRenderError, match="unsafe"):
        engine.compile_value("{{ input.__class__ }}", "o").render(CONTEXT)


def test_references(engine: TemplateEngine) -> None:
    template = engine.compile_text(
        "{{ steps.a.x }}{{ steps['b-c'].y }}{% for i in steps.d %}{{ i }}{% endfor %}{{ inpt }}",
        "o",
    )
    assert referenced_steps(template) == {"a", "b-c", "d"}
    assert referenced_names(template) == {"steps", "inpt"}


def test_syntax_error_in_a_file_points_at_its_line(engine: TemplateEngine) -> None:
    with pytest.raises(TemplateSyntaxProblem) as caught:
        engine.compile_text("ok\n{{ steps.x + }}\n", "prompts/p.md")
    assert str(caught.value.problem) == (
        "prompts/p.md:2: template syntax error: unexpected 'end of print statement'"
    )


def test_syntax_error_in_a_yaml_value_points_at_the_value(engine: TemplateEngine) -> None:
    with pytest.raises(TemplateSyntaxProblem) as caught:
        engine.compile_value("/x/{{ input | nofilter }}", Origin("pipelines/p.yaml", 9, 11))
    assert str(caught.value.problem) == (
        "pipelines/p.yaml:9:11: template syntax error: No filter named 'nofilter'."
    )


def test_compile_time_checks_run_before_any_render(engine: TemplateEngine) -> None:
    # Jinja's code is generated on first render; its checks must still fail the compile.
    with pytest.raises(TemplateSyntaxProblem) as caught:
        engine.compile_text("Line one\nLine two\n{{ input | nofilter }}\n", "prompts/p.md")
    assert str(caught.value.problem) == (
        "prompts/p.md:3: template syntax error: No filter named 'nofilter'."
    )


def test_constants_skip_jinja(engine: TemplateEngine) -> None:
    assert engine.compile_text("no templates here", "o").template is None
    assert engine.compile_value("/tickets", "o").expression is None

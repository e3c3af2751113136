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


TEXTS = [
    "/tickets/{{ input.ticket_id }}",
    "{{ steps.ticket.subject | upper }} for {{ input.ticket_id }}",
    "{% if steps.ticket.amount > 1000 %}large{% else %}small{% endif %}: {{ steps.ticket.amount }}",
    "{% for tag in steps.ticket.tags %}{{ tag }},{% endfor %}",  # a list: never remembered
    "{{ steps.ticket.meta }}",  # a dict: never remembered
    "{{ steps.ticket.meta.items() | list }}",  # a dict method: never remembered
    "{{ input }}",
    "{{ range(3) | list }}",  # no context at all
]
VALUES = [1, 1.0, True, 0.0, -0.0, "1", None, "T-1", ["x"], {"k": 2}]


@pytest.mark.parametrize("source", TEXTS)
def test_a_remembered_text_is_the_text_jinja_renders(engine: TemplateEngine, source: str) -> None:
    """Rendered again and again with values that Python counts as equal (1, 1.0, True; -0.0
    and 0.0) or that are not scalars, a template always says what Jinja would say now."""
    template = engine.compile_text(source, "o")
    for _ in range(2):
        for value in VALUES:
            context = {
                "input": {"ticket_id": value},
                "steps": {"ticket": {"subject": str(value), "amount": value, "tags": [value],
                                     "meta": {"k": value}}},
            }  # fmt: skip
            try:
                expected = TemplateEngine().compile_text(source, "o").render(context)  # new
            except TemplateRenderError as exc:
                with pytest.raises(TemplateRenderError, match=str(exc)):
                    template.render(context)
                continue
            assert template.render(context) == expected


def test_only_plain_chains_are_remembered(engine: TemplateEngine) -> None:
    def keys(source: str) -> Any:
        template = engine.compile_text(source, "o").template
        assert template is not None
        return template._keys

    assert keys("/tickets/{{ input.ticket_id }}/{{ steps.a.b }}") == (
        ("input", "ticket_id"),
        ("steps", "a", "b"),
    )
    assert keys("{{ steps.a.items() }}") is None  # Jinja returns the dict's method
    assert keys("{{ steps.a[0] }}") is None
    assert keys("{% for x in steps.a.list %}{{ x.name }}{% endfor %}") == (("steps", "a", "list"),)


def test_a_missing_value_still_fails_after_others_were_remembered(engine: TemplateEngine) -> None:
    template = engine.compile_text("/tickets/{{ input.ticket_id }}", "o")
    assert template.render({"input": {"ticket_id": "T-1"}}) == "/tickets/T-1"
    with pytest.raises(TemplateRenderError, match="ticket_id"):
        template.render({"input": {}})

"""The strict, sandboxed templates that prompts and request fields are written in.

Prompts, request paths, headers, bodies and route conditions are Jinja, rendered in an
immutable sandbox (a template can read step outputs but never call methods that change them,
nor reach Python internals) with ``StrictUndefined``: a misspelt name is an error, never an
empty string that quietly ends up in a prompt or a URL.

Everything is compiled once, when the pipeline is loaded. Rendering is on the run's hot path,
so constants skip Jinja entirely, and each compiled object keeps what the loader's static
checks need (the names and ``steps.<id>`` it refers to, with lines) so nothing is parsed twice.

A string that is exactly one ``{{ expression }}`` keeps the expression's type (a number stays
a number, a mapping stays a mapping); any other string renders to text.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Final, TypeVar

import jinja2
from jinja2 import meta, nodes
from jinja2.environment import TemplateExpression
from jinja2.sandbox import ImmutableSandboxedEnvironment

from agentdesk.errors import AgentdeskError, Problem

Chain = tuple[str | int, ...]
"""A dotted reference such as ``steps.ticket.subject`` → ``("steps", "ticket", "subject")``."""

T = TypeVar("T")

_SYNTAX_MARKERS: Final = ("{{", "{%", "{#")
_ONE_EXPRESSION: Final = re.compile(r"\s*\{\{-?(?P<expr>.*?)-?\}\}\s*", re.DOTALL)
_IDENTIFIER: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class Origin:
    """Where a template came from: a file, and for a value inside a YAML file its position."""

    file: str
    line: int = 0
    column: int = 0
    field: str = ""
    """What the value is, for messages (``steps.refund.json.amount``)."""

    def __str__(self) -> str:
        where = self.file
        if self.line:
            where += f":{self.line}:{self.column}" if self.column else f":{self.line}"
        return f"{where} ({self.field})" if self.field else where

    def at(self, template_line: int) -> tuple[int, int]:
        """The file position of a line of the template (column only for its first line)."""
        if not self.line:
            return template_line, 0
        return self.line + template_line - 1, self.column if template_line == 1 else 0


class TemplateSyntaxProblem(AgentdeskError):
    """A template that does not compile; ``problem`` says where, in the file it came from."""

    def __init__(self, problem: Problem) -> None:
        self.problem = problem
        super().__init__(str(problem))


class TemplateRenderError(AgentdeskError):
    """A template that failed while rendering: an undefined name, an unsafe access, a bad type."""

    def __init__(self, origin: Origin, detail: str, line: int = 0) -> None:
        self.origin = origin
        self.detail = detail
        self.line = line
        where = f"{origin}:{line}" if line and not origin.line else str(origin)
        super().__init__(f"{where}: {detail}")


@dataclass(frozen=True)
class References:
    """What a template reads from its context, for the loader's static checks."""

    names: Mapping[str, int] = field(default_factory=dict)
    """Each free variable (``input``, ``steps``, ``loop``, or a typo) → first template line."""
    steps: Mapping[str, int] = field(default_factory=dict)
    """Each ``steps.<id>`` (or ``steps['<id>']``) → first template line."""
    chains: tuple[tuple[Chain, int], ...] = ()
    """Every static chain rooted at a free variable, longest first, with its line."""

    def merge(self, other: References) -> References:
        return References(
            {**other.names, **self.names},
            {**other.steps, **self.steps},
            self.chains + other.chains,
        )


NO_REFERENCES: Final = References()


class LazyTemplate:
    """A parsed template whose Python code Jinja generates on its first render.

    Judging an edit needs the parse and Jinja's compile-time checks (unknown filters and
    tests, misplaced statements), and the walk that finds a template's free variables
    (``_references``) is Jinja's own code generator with its output thrown away, so it makes
    every one of those checks. Generating the code a second time for real is left to the first
    render: a prompt edit is judged in half the time, and a version no run uses never pays.

    A template that reads its context only through plain chains (``input.ticket_id``,
    ``steps.ticket.subject``) renders the same text whenever those chains hold the same
    scalars, so the text is remembered by their values (``memo_keys``): a request path or a
    prompt rendered for the five-hundredth ticket of the same five hundred costs a lookup, not
    Jinja's 7 µs. Anything else — a chain to a list or a dict, a missing value — renders.
    """

    __slots__ = ("_ast", "_environment", "_keys", "_rendered", "_template")

    REMEMBERED = 1024
    """Texts remembered per template; all are forgotten when it fills."""

    def __init__(self, environment: jinja2.Environment, ast: nodes.Template) -> None:
        self._environment = environment
        self._ast = ast
        self._template: jinja2.Template | None = None
        self._keys = memo_keys(ast)
        self._rendered: dict[tuple[Any, ...], str] = {}

    def render(self, context: Mapping[str, Any]) -> str:
        keys = self._keys
        if keys is None:
            return self._render(context)
        key = _memo_key(keys, context)
        if key is None:
            return self._render(context)
        text = self._rendered.get(key)
        if text is None:
            text = self._render(context)
            if len(self._rendered) >= self.REMEMBERED:
                self._rendered.clear()
            self._rendered[key] = text
        return text

    def _render(self, context: Mapping[str, Any]) -> str:
        template = self._template
        if template is None:
            template = self._template = self._environment.from_string(self._ast)
        return template.render(context)


_SCALARS = (str, int, float, bool, type(None))


def memo_keys(ast: nodes.Template) -> tuple[tuple[str, ...], ...] | None:
    """The chains a template's text is a function of, or None when it is not one of plain
    chains (a part that is a number, or the name of a dict method Jinja would return)."""
    free = meta.find_undeclared_variables(ast)
    found: set[tuple[str, ...]] = set()

    def visit(node: nodes.Node) -> bool:
        if isinstance(node, nodes.Getattr | nodes.Getitem | nodes.Name):
            chain = _chain(node)
            if chain is not None and chain[0] in free:
                parts = chain[1:]
                if not all(isinstance(p, str) and not hasattr(dict, p) for p in parts):
                    return False
                found.add(chain)  # type: ignore[arg-type]
                return True
        return all(visit(child) for child in node.iter_child_nodes())

    return tuple(sorted(found)) if visit(ast) else None


def _memo_key(
    keys: tuple[tuple[str, ...], ...], context: Mapping[str, Any]
) -> tuple[Any, ...] | None:
    """The chains' values, each with its type (``1``, ``1.0`` and ``True`` are equal keys
    in Python, and render differently); None when one is not a scalar or is missing."""
    key: list[Any] = []
    for chain in keys:
        value = _resolve(chain, context)
        kind = type(value)
        if kind is str:
            key.append(value)
        elif kind in _SCALARS:
            key.append((kind, repr(value)))  # repr: -0.0 and 0.0 are equal too
        else:
            return None
    return tuple(key)


@dataclass(frozen=True)
class CompiledTemplate:
    """A template that renders to text (a prompt, a request path, a header)."""

    origin: Origin
    source: str
    references: References = NO_REFERENCES
    template: LazyTemplate | None = None
    """None for a constant: ``render`` returns ``source`` without touching Jinja."""

    def render(self, context: Mapping[str, Any]) -> str:
        if self.template is None:
            return self.source
        try:
            return self.template.render(context)
        except Exception as exc:
            multiline = "\n" in self.source.rstrip("\n")
            raise _render_error(self.origin, self.references, exc, context, multiline) from exc


@dataclass(frozen=True)
class CompiledValue:
    """A request value: a constant, one expression (keeps its type), or text."""

    origin: Origin
    source: str
    references: References = NO_REFERENCES
    text: CompiledTemplate | None = None
    expression: TemplateExpression | None = None
    chain: tuple[str, ...] = ()
    """Set when the expression is a plain dotted name (``steps.ticket.customer_id``): looked
    up directly, which is several times cheaper than Jinja; anything the direct lookup cannot
    resolve goes through Jinja, so results and error messages are Jinja's."""

    def render(self, context: Mapping[str, Any]) -> Any:
        if self.chain:
            found = _resolve(self.chain, context)
            if found is not _UNRESOLVED:
                return found
        if self.expression is not None:
            return _evaluate(self.expression, self.origin, self.references, context)
        if self.text is not None:
            return self.text.render(context)
        return self.source


@dataclass(frozen=True)
class CompiledCondition:
    """A boolean expression over the context (``steps.triage.confidence < 0.6``)."""

    origin: Origin
    source: str
    references: References
    expression: TemplateExpression

    def evaluate(self, context: Mapping[str, Any]) -> bool:
        value = _evaluate(self.expression, self.origin, self.references, context)
        return bool(value)


@dataclass(frozen=True)
class CompiledJSON:
    """A JSON-like value whose strings are compiled values (request bodies, headers, query)."""

    origin: Origin
    tree: Any
    """The value with every string replaced by its ``CompiledValue``."""
    references: References = NO_REFERENCES

    def render(self, context: Mapping[str, Any]) -> Any:
        return _render_tree(self.tree, context)


Compiled = CompiledTemplate | CompiledValue | CompiledCondition | CompiledJSON


def referenced_steps(compiled: Compiled) -> set[str]:
    """The step ids a compiled template reads through ``steps``."""
    return set(compiled.references.steps)


def referenced_names(compiled: Compiled) -> set[str]:
    """The free variables a compiled template reads (``input``, ``steps``, ``loop``, ...)."""
    return set(compiled.references.names)


class TemplateEngine:
    """Compiles templates in one sandboxed, strict environment shared by a workspace.

    What Jinja builds from a source string (its parse tree, template, expression) is kept by
    source, so reloading a workspace after an edit compiles only what the edit changed.
    """

    CACHE_SIZE = 4096

    def __init__(self) -> None:
        self.environment = ImmutableSandboxedEnvironment(
            undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=True
        )
        self._built: dict[tuple[str, str], Any] = {}

    @property
    def global_names(self) -> frozenset[str]:
        """Names every template may use besides its context (``range``, ``dict``, ...)."""
        return frozenset(self.environment.globals)

    def compile_text(self, source: str, origin: str | Origin) -> CompiledTemplate:
        where = _origin(origin)
        if not _has_syntax(source):
            return CompiledTemplate(where, source)
        references, template = self._cached("text", source, lambda: self._text(source, where))
        return CompiledTemplate(where, source, references, template)

    def _text(self, source: str, where: Origin) -> tuple[References, LazyTemplate]:
        ast = self._compile(partial(self.environment.parse, source), where)
        references = self._compile(partial(_references, ast), where)
        return references, LazyTemplate(self.environment, ast)

    def compile_value(self, source: str, origin: str | Origin) -> CompiledValue:
        where = _origin(origin)
        if not _has_syntax(source):
            return CompiledValue(where, source)
        inner = _single_expression(source)
        if inner is None:
            text = self.compile_text(source, where)
            return CompiledValue(where, source, text.references, text=text)
        references = self._references(source, where)
        expression = self._expression(inner, where)
        return CompiledValue(
            where, source, references, expression=expression, chain=_plain_chain(inner)
        )

    def compile_condition(self, expr: str, origin: str | Origin) -> CompiledCondition:
        where = _origin(origin)
        inner = _single_expression(expr)
        inner = expr if inner is None else inner
        references = self._references("{{ " + inner + " }}", where)
        return CompiledCondition(where, expr, references, self._expression(inner, where))

    def compile_json(
        self,
        value: Any,
        origin: str | Origin,
        where: Callable[[Chain], Origin] | None = None,
    ) -> CompiledJSON:
        """Compile every string inside ``value``; ``where`` gives each string's own origin."""
        base = _origin(origin)
        leaf_origin = where or (lambda path: _with_field(base, path))
        tree, references = self._compile_tree(value, (), leaf_origin)
        return CompiledJSON(base, tree, references)

    def _compile_tree(
        self, value: Any, path: Chain, where: Callable[[Chain], Origin]
    ) -> tuple[Any, References]:
        if isinstance(value, str):
            compiled = self.compile_value(value, where(path))
            return compiled, compiled.references
        if isinstance(value, dict):
            pairs = {k: self._compile_tree(v, (*path, k), where) for k, v in value.items()}
            return {k: tree for k, (tree, _) in pairs.items()}, _merge(r for _, r in pairs.values())
        if isinstance(value, list):
            items = [self._compile_tree(v, (*path, i), where) for i, v in enumerate(value)]
            return [tree for tree, _ in items], _merge(r for _, r in items)
        return value, NO_REFERENCES

    def _references(self, source: str, origin: Origin) -> References:
        parse = partial(self.environment.parse, source)
        build = lambda: _references(self._compile(parse, origin))  # noqa: E731
        return self._cached("references", source, build)  # type: ignore[no-any-return]

    def _expression(self, source: str, origin: Origin) -> TemplateExpression:
        build = partial(self.environment.compile_expression, source, undefined_to_none=False)
        return self._cached("expression", source, lambda: self._compile(build, origin))  # type: ignore[no-any-return]

    def _cached(self, what: str, source: str, build: Callable[[], Any]) -> Any:
        """``build()``, remembered by source (failures are not remembered: they raise)."""
        key = (what, source)
        found = self._built.get(key)
        if found is None:
            if len(self._built) >= self.CACHE_SIZE:
                self._built.clear()
            found = self._built[key] = build()
        return found

    def _compile(self, build: Callable[[], T], origin: Origin) -> T:
        try:
            return build()
        except jinja2.TemplateSyntaxError as exc:
            line, column = origin.at(exc.lineno or 1)
            message = f"template syntax error: {exc.message}"
            raise TemplateSyntaxProblem(Problem(origin.file, line, column, message)) from None


def _origin(origin: str | Origin) -> Origin:
    return origin if isinstance(origin, Origin) else Origin(origin)


def _with_field(base: Origin, path: Chain) -> Origin:
    if not path:
        return base
    suffix = dotted(path)
    return Origin(base.file, base.line, base.column, f"{base.field}.{suffix}".lstrip("."))


def _has_syntax(source: str) -> bool:
    return any(marker in source for marker in _SYNTAX_MARKERS)


def _single_expression(source: str) -> str | None:
    """The expression inside ``{{ ... }}`` when that is the whole string, else None."""
    match = _ONE_EXPRESSION.fullmatch(source)
    if match is None:
        return None
    inner = match["expr"]
    if any(marker in inner for marker in (*_SYNTAX_MARKERS, "}}", "%}", "#}")):
        return None
    return inner.strip()


def _merge(parts: Any) -> References:
    merged = NO_REFERENCES
    for part in parts:
        merged = merged.merge(part)
    return merged


# --- static references ------------------------------------------------------------------------


def _references(ast: nodes.Template) -> References:
    free = meta.find_undeclared_variables(ast)
    names: dict[str, int] = {}
    for name in ast.find_all(nodes.Name):
        if name.name in free:
            names.setdefault(name.name, name.lineno)
    chains = _chains(ast, free)
    steps: dict[str, int] = {}
    for chain, line in chains:
        if len(chain) >= 2 and chain[0] == "steps" and isinstance(chain[1], str):
            steps.setdefault(chain[1], line)
    ordered = tuple(sorted(chains, key=lambda item: (item[1], -len(item[0]))))
    return References(names, steps, ordered)


def _chains(ast: nodes.Template, free: set[str]) -> list[tuple[Chain, int]]:
    found: dict[Chain, int] = {}
    for node in ast.find_all((nodes.Getattr, nodes.Getitem, nodes.Name)):
        chain = _chain(node)
        if chain and chain[0] in free:
            found.setdefault(chain, node.lineno)
    return list(found.items())


def _chain(node: nodes.Node) -> Chain | None:
    parts: list[str | int] = []
    while not isinstance(node, nodes.Name):
        if isinstance(node, nodes.Getattr):
            parts.append(node.attr)
        elif isinstance(node, nodes.Getitem) and _constant_key(node.arg):
            parts.append(node.arg.value)  # type: ignore[attr-defined]
        else:
            return None
        node = node.node
    return (node.name, *reversed(parts))


def _constant_key(node: nodes.Node) -> bool:
    return isinstance(node, nodes.Const) and isinstance(node.value, str | int)


def dotted(chain: Chain) -> str:
    """``("steps", "my-step", 0)`` → ``steps['my-step'][0]``; plain names join with dots."""
    text = ""
    for part in chain:
        if isinstance(part, str) and _IDENTIFIER.fullmatch(part):
            text += f".{part}" if text else part
        else:
            text += f"[{part!r}]"
    return text


# --- rendering --------------------------------------------------------------------------------

_PLAIN_CHAIN = re.compile(r"^\s*[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*\s*$")
_UNRESOLVED: Any = object()


def _plain_chain(expression: str) -> tuple[str, ...]:
    """The parts of a plain dotted name; () when the expression is anything else, or when a
    part names a dict method (Jinja would return the method, not the key)."""
    if not _PLAIN_CHAIN.match(expression):
        return ()
    parts = tuple(expression.strip().split("."))
    return () if any(hasattr(dict, part) for part in parts[1:]) else parts


def _resolve(chain: tuple[str, ...], context: Mapping[str, Any]) -> Any:
    value: Any = context
    for part in chain:
        if not isinstance(value, dict) or part not in value:
            return _UNRESOLVED
        value = value[part]
    return value


def _evaluate(
    expression: TemplateExpression,
    origin: Origin,
    references: References,
    context: Mapping[str, Any],
) -> Any:
    try:
        value = expression(context)
        if isinstance(value, jinja2.Undefined):
            value._fail_with_undefined_error()
        return value
    except Exception as exc:
        raise _render_error(origin, references, exc, context, multiline=False) from exc


def _render_tree(tree: Any, context: Mapping[str, Any]) -> Any:
    if isinstance(tree, CompiledValue):
        return tree.render(context)
    if isinstance(tree, dict):
        return {key: _render_tree(value, context) for key, value in tree.items()}
    if isinstance(tree, list):
        return [_render_tree(value, context) for value in tree]
    return tree


def _render_error(
    origin: Origin,
    references: References,
    exc: Exception,
    context: Mapping[str, Any],
    multiline: bool,
) -> TemplateRenderError:
    """The error to raise, naming the missing name when a static reference explains it."""
    if isinstance(exc, TemplateRenderError):
        return exc
    if isinstance(exc, jinja2.UndefinedError):
        for chain, line in references.chains:
            detail = _missing(chain, context)
            if detail:
                return TemplateRenderError(origin, detail, line if multiline else 0)
        return TemplateRenderError(origin, str(exc))
    if isinstance(exc, jinja2.TemplateError):
        return TemplateRenderError(origin, str(exc))
    return TemplateRenderError(origin, f"{type(exc).__name__}: {exc}")


def _missing(chain: Chain, context: Mapping[str, Any]) -> str | None:
    """Why ``chain`` cannot be resolved in ``context``, or None when it can."""
    root = str(chain[0])
    if root not in context:
        return f"'{root}' is undefined"
    value: Any = context[root]
    for index, part in enumerate(chain[1:], start=1):
        found, value = _lookup(value, part)
        if not found:
            what = "item" if isinstance(part, int) else "attribute"
            return f"'{dotted(chain[:index])}' has no {what} {part!r}"
    return None


def _lookup(value: Any, part: str | int) -> tuple[bool, Any]:
    if isinstance(value, Mapping):
        return (True, value[part]) if part in value else (False, None)
    if isinstance(value, list | tuple) and isinstance(part, int):
        return (True, value[part]) if -len(value) <= part < len(value) else (False, None)
    if isinstance(part, str) and not part.startswith("_") and hasattr(value, part):
        return True, getattr(value, part)
    return False, None

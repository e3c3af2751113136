"""Reading a workspace: its config, a pipeline with its prompts and schemas, a scenario.

Loading is where a user learns what is wrong with their files, so it collects *every* problem
in every file it reads (agentdesk.yaml, the pipeline, the prompts and schema files) and raises
one ``SpecError`` holding all of them, each as ``file:line:column: message``. To get past the
first broken piece, the parts of a file that did validate are kept and checked further: a
step with a wrong type does not hide an unknown service two steps later.

What loading returns is ready to run: every template compiled once (``CompiledStep``), every
schema resolved and checked, every step's effective policy merged (workspace ← pipeline ←
enclosing steps ← step, key by key) and validated.
"""

from __future__ import annotations

import functools
import importlib
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from pydantic import BaseModel, TypeAdapter, ValidationError

from agentdesk.errors import Problem, RunError, SpecError, WorkspaceNotFound
from agentdesk.spec.graph import (
    PlacedStep,
    check_ids,
    check_jumps,
    declared_steps,
    place_steps,
)
from agentdesk.spec.models import (
    AnyStep,
    LLMStep,
    LoopStep,
    PipelineSpec,
    PolicySpec,
    RouteStep,
    ToolStep,
    ValidateStep,
    WorkspaceSpec,
)
from agentdesk.spec.secrets import secret_problems, secret_values
from agentdesk.spec.sources import DISK, FileSource, SourceFiles, release_id, release_manifest
from agentdesk.spec.templates import (
    Compiled,
    CompiledCondition,
    CompiledJSON,
    CompiledTemplate,
    CompiledValue,
    Origin,
    TemplateEngine,
    TemplateSyntaxProblem,
    dotted,
)
from agentdesk.spec.validation import suggestion, validate_document
from agentdesk.spec.yamlpos import (
    Positions,
    YamlDocument,
    YamlPath,
    parse_yaml_shared,
)

WORKSPACE_FILE = "agentdesk.yaml"
CONTEXT_NAMES = ("input", "steps", "loop")
"""What templates may read: the run's input, step outputs, and (in a loop) the iteration."""

Validator = Callable[[Any], BaseModel]
"""Validates raw data into a model (``Scenario.model_validate``), raising ValidationError."""

C = TypeVar("C", bound=Compiled)

_STEP: TypeAdapter[AnyStep] = TypeAdapter(AnyStep)


@dataclass(frozen=True)
class Workspace:
    """A workspace folder with its validated agentdesk.yaml."""

    root: Path
    spec: WorkspaceSpec
    file: Path
    """The agentdesk.yaml."""
    document: YamlDocument
    sims: dict[str, Any]
    """The raw ``sims`` section (baseline behaviour per sim), validated by the sims' model."""
    sims_positions: Positions
    """Where each key of ``sims`` is, paths relative to the section."""
    templates: TemplateEngine
    problems: tuple[Problem, ...] = ()
    """Problems in agentdesk.yaml, kept when loaded with ``strict=False``."""
    files: FileSource = DISK
    """What every file of this workspace is read through (disk, or hot reload's overlay)."""
    sources: SourceFiles = field(default_factory=SourceFiles)
    """agentdesk.yaml as read (its artifact id and content)."""
    secrets: tuple[str, ...] = ()
    """The values of the API keys its services name (no file of the workspace may hold one)."""

    @functools.cached_property
    def resolved_root(self) -> Path:
        """``root`` with symlinks resolved, once (every file the loader reads is checked
        against it)."""
        return self.root.resolve()

    def relative(self, path: Path) -> str:
        """How problems name a file: relative to the workspace when inside it."""
        try:
            return path.resolve().relative_to(self.resolved_root).as_posix()
        except ValueError:
            return str(path)


@dataclass(frozen=True)
class CompiledMessage:
    role: str
    template: CompiledTemplate


@dataclass(frozen=True)
class CompiledRoute:
    when: CompiledCondition
    goto: str


@dataclass(frozen=True)
class CompiledStep:
    """A step's template fields, compiled; which fields are set depends on the kind."""

    id: str
    kind: str
    origin: Origin
    """Where the step is defined (for messages)."""
    messages: tuple[CompiledMessage, ...] = ()
    """llm: the conversation (a ``prompt`` shorthand becomes one user message)."""
    service: CompiledTemplate | None = None
    path: CompiledTemplate | None = None
    query: CompiledJSON | None = None
    headers: CompiledJSON | None = None
    json: CompiledJSON | None = None
    value: CompiledValue | None = None
    """validate: what to check."""
    routes: tuple[CompiledRoute, ...] = ()
    until: CompiledCondition | None = None


@dataclass(frozen=True)
class LoadedPipeline:
    """A pipeline ready to run: spec, compiled templates, resolved schemas, merged policies."""

    name: str
    path: Path
    spec: PipelineSpec
    prompts: dict[str, CompiledTemplate]
    """Prompt templates by workspace-relative path."""
    schemas: dict[str, dict[str, Any]]
    """JSON Schemas by step id, for llm steps with ``output`` and for validate steps."""
    steps: dict[str, CompiledStep]
    policies: dict[str, PolicySpec]
    """The effective policy of every step, by step id."""
    sources: dict[str, str] = field(default_factory=dict)
    """Every file the pipeline was loaded from (workspace-relative path → artifact id)."""
    contents: dict[str, bytes] = field(default_factory=dict)
    """The same files' normalized content, by path: what the store keeps as artifacts."""
    step_files: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """The prompt and schema files each step reads, by step id (paths, in ``sources``)."""
    manifest: dict[str, Any] = field(default_factory=dict)
    """What the release id hashes (``sources.release_manifest``)."""
    release: str = ""
    """The release id: files, model configuration and agentdesk version, hashed."""

    def step_artifacts(self, step_id: str) -> tuple[str, ...]:
        """The artifact ids of the files a step reads."""
        return tuple(self.sources[path] for path in self.step_files.get(step_id, ()))


# --- workspace --------------------------------------------------------------------------------


def load_workspace(
    root: Path,
    *,
    strict: bool = True,
    sims_validator: Validator | None = None,
    files: FileSource = DISK,
    templates: TemplateEngine | None = None,
) -> Workspace:
    """Read ``root/agentdesk.yaml``; ``strict=False`` keeps its problems in ``.problems``.

    ``sims_validator`` checks the ``sims`` section; by default the sims package's model.
    ``files`` is what the workspace's files are read through (the disk by default);
    ``templates`` an engine to reuse (hot reload keeps one, so unchanged templates are not
    compiled again).
    """
    file = root / WORKSPACE_FILE
    if not files.is_file(file):
        raise WorkspaceNotFound(root)
    problems: list[Problem] = []
    sources = SourceFiles()
    doc = _read_document(files, file, WORKSPACE_FILE, problems, sources)
    doc = doc or YamlDocument(WORKSPACE_FILE, {})
    spec = _workspace_spec(doc, problems)
    problems += _model_service_problems(doc, spec)
    sims = doc.section("sims")
    problems += _sims_problems(sims, sims_validator or _sims_model("SimsConfig"))
    secrets = tuple(secret_values(spec.services, os.environ))
    problems += secret_problems(sources.contents, secrets)
    if strict and problems:
        raise SpecError(problems)
    engine = templates or TemplateEngine()
    return Workspace(
        root,
        spec,
        file,
        doc,
        sims.data,
        sims.positions,
        engine,
        tuple(problems),
        files,
        sources,
        secrets,
    )


def _workspace_spec(doc: YamlDocument, problems: list[Problem]) -> WorkspaceSpec:
    spec, found = validate_document(WorkspaceSpec.model_validate, doc, model=WorkspaceSpec)
    problems += found
    return spec if spec is not None else _salvage_workspace(doc.data)


def _salvage_workspace(data: dict[str, Any]) -> WorkspaceSpec:
    """The workspace without its invalid parts (each bad service or model dropped alone)."""
    kept: dict[str, Any] = {}
    for key, value in data.items():
        if key in ("services", "models") and isinstance(value, dict):
            value = {n: v for n, v in value.items() if _is_valid_workspace({key: {n: v}})}
        if _is_valid_workspace({key: value}):
            kept[key] = value
    return WorkspaceSpec.model_validate(kept)


def _is_valid_workspace(data: dict[str, Any]) -> bool:
    try:
        WorkspaceSpec.model_validate(data)
    except ValidationError:
        return False
    return True


def _model_service_problems(doc: YamlDocument, spec: WorkspaceSpec) -> list[Problem]:
    services = _declared(doc, "services")
    return [
        doc.problem(
            ("models", name, "service"), _unknown("service", model.service, services), value=True
        )
        for name, model in spec.models.items()
        if model.service not in services
    ]


def _sims_problems(sims: YamlDocument, validator: Validator | None) -> list[Problem]:
    """The sims' own checks, once the section has the shape the workspace model asks for
    (otherwise that model has reported it already)."""
    if validator is None or not _is_valid_workspace({"sims": sims.data}):
        return []
    return validate_document(validator, sims, model=_model_class(validator))[1]


def _sims_model(name: str) -> Validator | None:
    """``sims.profiles.<name>.model_validate``, when the sims package provides it."""
    try:
        module = importlib.import_module("sims.profiles")
    except ImportError:
        return None
    model = getattr(module, name, None)
    if isinstance(model, type) and issubclass(model, BaseModel):
        return model.model_validate
    return None


def _model_class(validator: Validator) -> type[BaseModel] | None:
    owner = getattr(validator, "__self__", None)
    return owner if isinstance(owner, type) and issubclass(owner, BaseModel) else None


# --- scenarios --------------------------------------------------------------------------------


def load_scenario(
    ws: Workspace, name_or_path: str, validator: Validator | None = None
) -> tuple[str, dict[str, Any]]:
    """Read ``scenarios/<name>.yaml`` (or a path): its name and its raw, validated data.

    ``validator`` defaults to the sims package's ``Scenario`` model (skipped when absent).
    """
    path = _find_file(ws, "scenarios", name_or_path, "scenario")
    problems: list[Problem] = []
    sources = SourceFiles()
    doc = _read_document(ws.files, path, ws.relative(path), problems, sources)
    if doc is None:
        raise SpecError(problems)
    problems += secret_problems(sources.contents, ws.secrets)
    validator = validator or _sims_model("Scenario")
    if validator is not None:
        problems += validate_document(validator, doc, model=_model_class(validator))[1]
    if problems:
        raise SpecError(problems)
    return path.stem, doc.data


# --- pipelines --------------------------------------------------------------------------------


def load_pipeline(ws: Workspace, name_or_path: str) -> LoadedPipeline:
    """Read, check and compile a pipeline; all problems (the workspace's too) raise at once."""
    path = _find_file(ws, "pipelines", name_or_path, "pipeline")
    problems = list(ws.problems)
    sources = ws.sources.copy()
    doc = _read_document(ws.files, path, ws.relative(path), problems, sources)
    if doc is None:
        raise SpecError(problems)
    spec, found = validate_document(PipelineSpec.model_validate, doc, model=PipelineSpec)
    problems += found
    steps: list[AnyStep | None] = list(spec.steps) if spec else _salvage_steps(doc.data)
    builder = _PipelineBuilder(ws, doc, spec, sources)
    builder.build(steps)
    problems += builder.problems
    own = {path: data for path, data in sources.contents.items() if path not in ws.sources.ids}
    problems += secret_problems(own, ws.secrets)
    if problems or spec is None:
        raise SpecError(list(dict.fromkeys(problems)))
    manifest = release_manifest(sources.ids, _model_configs(ws, spec))
    return LoadedPipeline(
        spec.name,
        path,
        spec,
        builder.prompts,
        builder.schemas,
        builder.steps,
        builder.policies,
        sources.ids,
        sources.contents,
        {step: tuple(paths) for step, paths in builder.step_files.items()},
        manifest,
        release_id(manifest),
    )


def _model_configs(ws: Workspace, spec: PipelineSpec) -> dict[str, Any]:
    """The configuration of every model the pipeline's llm steps can call (primary and
    fallbacks), as the release id sees it."""
    names = {
        name
        for placed in place_steps(spec.steps)
        if isinstance(placed.step, LLMStep)
        for name in (placed.step.model, *placed.step.fallback)
    }
    return {
        name: ws.spec.models[name].model_dump(mode="json")
        for name in sorted(names)
        if name in ws.spec.models
    }


def _salvage_steps(data: dict[str, Any]) -> list[AnyStep | None]:
    """The top-level steps that validate on their own, None for the others (whose errors are
    already reported), so that each keeps its index."""
    raw = data.get("steps")
    return [_valid_step(item) for item in (raw if isinstance(raw, list) else [])]


def _valid_step(item: Any) -> AnyStep | None:
    try:
        return _STEP.validate_python(item)
    except ValidationError:
        return None


def merge_policy_layers(*layers: dict[str, Any]) -> dict[str, Any]:
    """Later layers override earlier ones key by key; nested mappings merge, the rest replace."""
    merged: dict[str, Any] = {}
    for layer in layers:
        merged = _deep_merge(merged, layer)
    return merged


def _deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        below = merged.get(key)
        if isinstance(below, dict) and isinstance(value, dict):
            value = _deep_merge(below, value)
        merged[key] = value
    return merged


@dataclass
class _PipelineBuilder:
    """Checks and compiles one pipeline's steps, collecting problems instead of stopping."""

    ws: Workspace
    doc: YamlDocument
    spec: PipelineSpec | None
    sources: SourceFiles
    """Every file read so far; the builder adds prompts and schemas."""
    problems: list[Problem] = field(default_factory=list)
    step_files: dict[str, list[str]] = field(default_factory=dict)
    prompts: dict[str, CompiledTemplate] = field(default_factory=dict)
    schemas: dict[str, dict[str, Any]] = field(default_factory=dict)
    steps: dict[str, CompiledStep] = field(default_factory=dict)
    policies: dict[str, PolicySpec] = field(default_factory=dict)
    step_ids: frozenset[str] = frozenset()
    _prompt_files: dict[str, CompiledTemplate | None] = field(default_factory=dict)
    _layers: dict[str, dict[str, Any]] = field(default_factory=dict)

    def build(self, steps: list[AnyStep | None]) -> None:
        placed = place_steps(steps)
        declared = declared_steps(self.doc.data)
        self.step_ids = frozenset(step_id for _, step_id in declared)
        self.problems += check_ids(declared, self.doc)
        self.problems += check_jumps(placed, declared, self.doc)
        raw_policies = self.doc.data.get("policies")
        self._layers[""] = self._policy_layer(raw_policies, ("policies",))
        if self.spec is not None and self.spec.input.schema_ is not None:
            self._check_schema(self.spec.input.schema_, self.doc, ("input", "schema"))
        for item in placed:
            self._step(item)

    # --- one step

    def _step(self, item: PlacedStep) -> None:
        step = item.step
        self._layers[step.id] = self._policy_layer(step.policies, (*item.loc, "policies"))
        self._merge_policies(item)
        origin = self._origin(item.loc, step.id)
        compiled = CompiledStep(step.id, step.kind, origin)
        if isinstance(step, LLMStep):
            compiled = self._llm(item, step, compiled)
        elif isinstance(step, ToolStep):
            compiled = self._tool(item, step, compiled)
        elif isinstance(step, ValidateStep):
            compiled = self._validate(item, step, compiled)
        elif isinstance(step, RouteStep):
            compiled = self._route(item, step, compiled)
        elif isinstance(step, LoopStep) and step.until is not None:
            until = self._condition(item, step.until, ("until",))
            compiled = _replace(compiled, until=until)
        self.steps.setdefault(step.id, compiled)

    def _llm(self, item: PlacedStep, step: LLMStep, compiled: CompiledStep) -> CompiledStep:
        models = _declared(self.ws.document, "models")
        for path, name in [(("model",), step.model), *_indexed("fallback", step.fallback)]:
            if name not in models:
                self._problem((*item.loc, *path), _unknown("model", name, models))
        messages = list(self._messages(item, step))
        if step.output is not None:
            self._output_schema(item, step)
        return _replace(compiled, messages=tuple(messages))

    def _messages(self, item: PlacedStep, step: LLMStep) -> Iterator[CompiledMessage]:
        if step.prompt is not None:
            template = self._prompt(item, step.prompt, ("prompt",))
            if template is not None:
                yield CompiledMessage("user", template)
        for index, message in enumerate(step.messages):
            loc = ("messages", index)
            if message.prompt is not None:
                template = self._prompt(item, message.prompt, (*loc, "prompt"))
            else:
                text = message.content or ""
                template = self._template(item, text, (*loc, "content"))
            if template is not None:
                yield CompiledMessage(message.role, template)

    def _tool(self, item: PlacedStep, step: ToolStep, compiled: CompiledStep) -> CompiledStep:
        self._check_services(item, step)
        return _replace(
            compiled,
            service=self._template(item, step.service, ("service",)),
            path=self._template(item, step.path, ("path",)),
            query=self._json(item, step.query, ("query",)),
            headers=self._json(item, step.headers, ("headers",)),
            json=self._json(item, step.json_, ("json",)),
        )

    def _check_services(self, item: PlacedStep, step: ToolStep) -> None:
        services = _declared(self.ws.document, "services")
        if "{{" in step.service or "{%" in step.service:
            if not step.allow:
                message = f"service '{step.service}' is a template: list its services in 'allow'"
                self._problem((*item.loc, "service"), message)
        elif step.service not in services:
            self._problem((*item.loc, "service"), _unknown("service", step.service, services))
        for index, rule in enumerate(step.allow or []):
            if rule.service not in services:
                path = (*item.loc, "allow", index, "service")
                self._problem(path, _unknown("service", rule.service, services))

    def _validate(
        self, item: PlacedStep, step: ValidateStep, compiled: CompiledStep
    ) -> CompiledStep:
        schema = self._schema(item, step.schema_, step.schema_file, ())
        if schema is not None:
            self.schemas[step.id] = schema
        elif step.schema_ is None and step.schema_file is None:
            self._problem(item.loc, "a validate step needs 'schema' or 'schema_file'")
        return _replace(compiled, value=self._value(item, step.value, ("value",)))

    def _route(self, item: PlacedStep, step: RouteStep, compiled: CompiledStep) -> CompiledStep:
        routes = []
        for index, route in enumerate(step.routes):
            when = self._condition(item, route.when, ("routes", index, "when"))
            if when is not None:
                routes.append(CompiledRoute(when, route.goto))
        return _replace(compiled, routes=tuple(routes))

    # --- schemas

    def _output_schema(self, item: PlacedStep, step: LLMStep) -> None:
        assert step.output is not None
        output = step.output
        schema = self._schema(item, output.schema_, output.schema_file, ("output",))
        if schema is None and output.schema_ is None and output.schema_file is None:
            schema = {}
        if schema is not None:
            self.schemas[step.id] = schema

    def _schema(
        self, item: PlacedStep, inline: dict[str, Any] | None, file: str | None, at: YamlPath
    ) -> dict[str, Any] | None:
        loc = (*item.loc, *at)
        if inline is not None and file is not None:
            self._problem((*loc, "schema_file"), "give either 'schema' or 'schema_file', not both")
            return None
        if inline is not None:
            return inline if self._check_schema(inline, self.doc, (*loc, "schema")) else None
        if file is None:
            return None
        return self._schema_file(item, file, (*loc, "schema_file"))

    def _schema_file(self, item: PlacedStep, name: str, loc: YamlPath) -> dict[str, Any] | None:
        path = self._workspace_path(name, loc, "schema")
        if path is None:
            return None
        problems: list[Problem] = []
        key = self.ws.relative(path)
        schema, doc = _read_schema(self.ws.files, path, key, problems, self.sources)
        self._uses(item, key)
        self.problems += problems
        if schema is None or not self._check_schema(schema, doc, ()):
            return None
        return schema

    def _check_schema(self, schema: dict[str, Any], doc: YamlDocument, at: YamlPath) -> bool:
        try:
            _check_schema(schema)
        except SchemaError as exc:
            path = (*at, *exc.absolute_path)
            self.problems.append(
                doc.problem(path, f"invalid JSON Schema: {exc.message}", value=True)
            )
            return False
        return True

    # --- prompts and templates

    def _prompt(self, item: PlacedStep, name: str, at: YamlPath) -> CompiledTemplate | None:
        path = self._workspace_path(name, (*item.loc, *at), "prompt")
        if path is None:
            return None
        key = self.ws.relative(path)
        if key not in self._prompt_files:
            self._prompt_files[key] = self._read_prompt(path, key)
        self._uses(item, key)
        template = self._prompt_files[key]
        if template is not None:
            self.prompts[key] = template
            self._check_references(template, item)
        return template

    def _uses(self, item: PlacedStep, key: str) -> None:
        """Note that a step reads a file (once it has been read into ``sources``)."""
        if key in self.sources.ids:
            files = self.step_files.setdefault(item.step.id, [])
            if key not in files:
                files.append(key)

    def _read_prompt(self, path: Path, key: str) -> CompiledTemplate | None:
        text = _read_text(self.ws.files, path, key, self.problems, self.sources)
        if text is None:
            return None
        if not text.strip():
            self.problems.append(Problem(key, 1, 1, "prompt file is empty"))
            return None
        try:
            return self.ws.templates.compile_text(text, Origin(key))
        except TemplateSyntaxProblem as exc:
            self.problems.append(exc.problem)
            return None

    def _workspace_path(self, name: str, loc: YamlPath, what: str) -> Path | None:
        path = (self.ws.root / name).resolve()
        if not path.is_relative_to(self.ws.resolved_root):
            self._problem(loc, f"{what} file '{name}' is outside the workspace")
            return None
        if not self.ws.files.is_file(path):
            self._problem(loc, f"{what} file '{name}' not found")
            return None
        return path

    def _template(self, item: PlacedStep, source: str, at: YamlPath) -> CompiledTemplate | None:
        origin = self._origin((*item.loc, *at), _field_name(item, at))
        return self._compiled(item, lambda: self.ws.templates.compile_text(source, origin))

    def _value(self, item: PlacedStep, source: str, at: YamlPath) -> CompiledValue | None:
        origin = self._origin((*item.loc, *at), _field_name(item, at))
        return self._compiled(item, lambda: self.ws.templates.compile_value(source, origin))

    def _condition(self, item: PlacedStep, source: str, at: YamlPath) -> CompiledCondition | None:
        origin = self._origin((*item.loc, *at), _field_name(item, at))
        return self._compiled(item, lambda: self.ws.templates.compile_condition(source, origin))

    def _json(self, item: PlacedStep, value: Any, at: YamlPath) -> CompiledJSON | None:
        def where(path: tuple[str | int, ...]) -> Origin:
            return self._origin((*item.loc, *at, *path), _field_name(item, (*at, *path)))

        origin = self._origin((*item.loc, *at), _field_name(item, at))
        return self._compiled(item, lambda: self.ws.templates.compile_json(value, origin, where))

    def _compiled(self, item: PlacedStep, compile_: Callable[[], C]) -> C | None:
        try:
            compiled = compile_()
        except TemplateSyntaxProblem as exc:
            self.problems.append(exc.problem)
            return None
        self._check_references(compiled, item)
        return compiled

    def _check_references(self, compiled: Compiled, item: PlacedStep) -> None:
        known = {*CONTEXT_NAMES, *self.ws.templates.global_names}
        for leaf in _leaves(compiled):
            for name, line in leaf.references.names.items():
                if name not in known:
                    hint = (
                        suggestion(name, CONTEXT_NAMES) or f" (known: {', '.join(CONTEXT_NAMES)})"
                    )
                    self._template_problem(leaf.origin, line, f"unknown variable '{name}'{hint}")
                elif name == "loop" and not item.in_loop:
                    message = "'loop' is only defined inside a loop step"
                    self._template_problem(leaf.origin, line, message)
            for chain, line in leaf.references.chains:
                self._check_input_property(leaf.origin, chain, line)
            for step_id, line in leaf.references.steps.items():
                if step_id not in self.step_ids:
                    message = (
                        f"template refers to steps.{step_id}, which is not a step of this "
                        f"pipeline{suggestion(step_id, self.step_ids)}"
                    )
                    self._template_problem(leaf.origin, line, message)

    def _check_input_property(
        self, origin: Origin, chain: tuple[str | int, ...], line: int
    ) -> None:
        """``input.X`` where the input schema declares its properties and X is not one of them
        would fail at render time (strict templates); say so now."""
        if len(chain) < 2 or chain[0] != "input" or not isinstance(chain[1], str):
            return
        schema = self.spec.input.schema_ if self.spec is not None else None
        declared = schema.get("properties") if isinstance(schema, dict) else None
        if not isinstance(declared, dict) or chain[1] in declared:
            return
        names = sorted(declared)
        hint = suggestion(chain[1], names) or f" (declared: {', '.join(names) or 'none'})"
        message = f"input has no property '{chain[1]}' in the pipeline's input schema{hint}"
        self._template_problem(origin, line, message)

    def _template_problem(self, origin: Origin, line: int, message: str) -> None:
        at_line, column = origin.at(line)
        self.problems.append(Problem(origin.file, at_line, column, message))

    # --- policies

    def _policy_layer(self, layer: Any, loc: YamlPath) -> dict[str, Any]:
        """A policy override, checked on its own so its problems point into its own lines."""
        if not layer:
            return {}
        found = validate_document(PolicySpec.model_validate, self.doc, layer, loc, PolicySpec)[1]
        self.problems += found
        return {} if found or not isinstance(layer, dict) else layer

    def _merge_policies(self, item: PlacedStep) -> None:
        owners = ["", *(a.id for a in item.ancestors), item.step.id]
        base = self.ws.spec.policies.model_dump()
        merged = merge_policy_layers(base, *(self._layers.get(owner, {}) for owner in owners))
        try:
            self.policies.setdefault(item.step.id, PolicySpec.model_validate(merged))
        except ValidationError as exc:
            self._problem((*item.loc, "policies"), f"policies do not combine: {exc}")

    # --- positions

    def _origin(self, loc: YamlPath, what: str) -> Origin:
        line, column = self.doc.where(loc, value=True)
        return Origin(self.doc.file, line, column, what)

    def _problem(self, loc: YamlPath, message: str) -> None:
        self.problems.append(self.doc.problem(loc, message, value=True))


_VALID_SCHEMAS: set[str] = set()
"""Schemas already checked and found valid, as canonical JSON (checking costs milliseconds;
reloading after an edit re-reads every schema of the pipeline)."""


def _check_schema(schema: dict[str, Any]) -> None:
    """Raise SchemaError when ``schema`` is not a valid JSON Schema (2020-12)."""
    try:
        key = json.dumps(schema, sort_keys=True)
    except (TypeError, ValueError):
        key = None
    if key is not None and key in _VALID_SCHEMAS:
        return
    Draft202012Validator.check_schema(schema)
    if key is not None:
        if len(_VALID_SCHEMAS) >= 1024:
            _VALID_SCHEMAS.clear()
        _VALID_SCHEMAS.add(key)


def _field_name(item: PlacedStep, at: YamlPath) -> str:
    return dotted(("steps", item.step.id, *at))


def _leaves(compiled: Compiled) -> Iterator[Compiled]:
    """The separately placed parts of a compiled value: each string of a JSON tree."""
    if not isinstance(compiled, CompiledJSON):
        yield compiled
        return
    stack = [compiled.tree]
    while stack:
        node = stack.pop()
        if isinstance(node, CompiledValue):
            yield node
        elif isinstance(node, dict):
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)


def _replace(step: CompiledStep, **changes: Any) -> CompiledStep:
    return CompiledStep(**{**step.__dict__, **changes})


def _indexed(key: str, values: list[str]) -> list[tuple[YamlPath, str]]:
    return [((key, index), value) for index, value in enumerate(values)]


def _declared(doc: YamlDocument, section: str) -> list[str]:
    """Names declared in a section of agentdesk.yaml, valid or not (so a bad entry is not
    also reported as unknown wherever it is used)."""
    raw = doc.data.get(section)
    return [str(name) for name in raw] if isinstance(raw, dict) else []


def _unknown(what: str, name: str, known: list[str]) -> str:
    hint = suggestion(name, known) or (f" ({what}s: {', '.join(known)})" if known else "")
    return f"unknown {what} '{name}'{hint}"


# --- files ------------------------------------------------------------------------------------


def _find_file(ws: Workspace, folder: str, name_or_path: str, what: str) -> Path:
    given = Path(name_or_path)
    if given.suffix in (".yaml", ".yml") or len(given.parts) > 1:
        candidates = [given, ws.root / given]
    else:
        candidates = [ws.root / folder / f"{name_or_path}{ext}" for ext in (".yaml", ".yml")]
    for candidate in candidates:
        if ws.files.is_file(candidate):
            return candidate
    known = sorted(p.stem for p in (ws.root / folder).glob("*.y*ml"))
    hint = suggestion(name_or_path, known) or (f" ({folder}: {', '.join(known)})" if known else "")
    raise RunError(f"no {what} '{name_or_path}' in {ws.root / folder}{hint}")


def _read_bytes(
    files: FileSource, path: Path, label: str, problems: list[Problem], sources: SourceFiles
) -> bytes | None:
    """The file's bytes, noted in ``sources`` by artifact id; None (and a problem) when it
    cannot be read."""
    try:
        data = files.read(path)
    except OSError as exc:
        problems.append(Problem(label, 0, 0, f"cannot read: {exc.strerror}"))
        return None
    sources.note(label, data)
    return data


def _read_document(
    files: FileSource, path: Path, label: str, problems: list[Problem], sources: SourceFiles
) -> YamlDocument | None:
    """The parsed file, or None when it cannot be read or parsed (problems say why)."""
    data = _read_bytes(files, path, label, problems, sources)
    if data is None:
        return None
    try:
        return parse_yaml_shared(data, label)
    except SpecError as exc:
        problems += exc.problems
    return None


def _read_text(
    files: FileSource, path: Path, label: str, problems: list[Problem], sources: SourceFiles
) -> str | None:
    data = _read_bytes(files, path, label, problems, sources)
    if data is None:
        return None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        problems.append(Problem(label, line, 0, f"invalid UTF-8 (byte offset {exc.start})"))
        return None


def _read_schema(
    files: FileSource, path: Path, label: str, problems: list[Problem], sources: SourceFiles
) -> tuple[dict[str, Any] | None, YamlDocument]:
    """A schema file (JSON, or YAML for .yaml/.yml) and its positions where they are known."""
    if path.suffix in (".yaml", ".yml"):
        doc = _read_document(files, path, label, problems, sources)
        return (None, YamlDocument(label, {})) if doc is None else (doc.data, doc)
    text = _read_text(files, path, label, problems, sources)
    if text is None:
        return None, YamlDocument(label, {})
    try:
        schema = json.loads(text)
    except json.JSONDecodeError as exc:
        problems.append(Problem(label, exc.lineno, exc.colno, f"invalid JSON: {exc.msg}"))
        return None, YamlDocument(label, {})
    if not isinstance(schema, dict):
        problems.append(Problem(label, 1, 1, "a schema must be a JSON object"))
        return None, YamlDocument(label, {})
    return schema, _positions_of_json(text, label, schema)


def _positions_of_json(text: str, label: str, schema: dict[str, Any]) -> YamlDocument:
    """JSON is (nearly) YAML: reuse the YAML reader for positions, when it agrees."""
    try:
        doc = parse_yaml_shared(text, label)
    except SpecError:
        return YamlDocument(label, schema)
    return YamlDocument(label, schema, doc.positions, doc.values)


# --- checking a whole workspace ---------------------------------------------------------------


def check_file(
    root: Path, path: str, files: FileSource = DISK, templates: TemplateEngine | None = None
) -> list[Problem]:
    """The problems of a prompt or schema file on its own (no pipeline reads it yet): a
    prompt must be non-empty UTF-8 that compiles, a schema a valid JSON Schema. Other files
    are not checked here (they are checked where they are used)."""
    folder = path.split("/", 1)[0]
    problems: list[Problem] = []
    sources = SourceFiles()
    if folder == "prompts":
        text = _read_text(files, root / path, path, problems, sources)
        if text is not None and not text.strip():
            problems.append(Problem(path, 1, 1, "prompt file is empty"))
        elif text is not None:
            try:
                (templates or TemplateEngine()).compile_text(text, Origin(path))
            except TemplateSyntaxProblem as exc:
                problems.append(exc.problem)
    elif folder == "schemas":
        schema, doc = _read_schema(files, root / path, path, problems, sources)
        if schema is not None:
            try:
                _check_schema(schema)
            except SchemaError as exc:
                problems.append(
                    doc.problem(tuple(exc.absolute_path), f"invalid JSON Schema: {exc.message}")
                )
    return problems + secret_problems(sources.contents)


def check_workspace(
    root: Path, pipelines: list[str] | None = None, files: FileSource = DISK
) -> int:
    """Load every pipeline and scenario (or the pipelines named); raise one SpecError with all
    their problems. Returns how many files were checked."""
    ws = load_workspace(root, strict=False, files=files)
    names = pipelines or sorted(p.stem for p in (root / "pipelines").glob("*.y*ml"))
    scenarios = [] if pipelines else sorted(p.stem for p in (root / "scenarios").glob("*.y*ml"))
    problems: list[Problem] = list(ws.problems)
    for name in names:
        problems += _problems_of(partial(load_pipeline, ws, name))
    for name in scenarios:
        problems += _problems_of(partial(load_scenario, ws, name))
    if problems:
        raise SpecError(sorted(set(problems)))
    return 1 + len(names) + len(scenarios)


def _problems_of(load: Callable[[], object]) -> list[Problem]:
    try:
        load()
    except SpecError as exc:
        return exc.problems
    return []

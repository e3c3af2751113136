"""YAML loading that remembers where every value came from.

Spec errors must say ``file:line:column``, and the models only see plain Python values, so the
values are built here together with a position map: path (``("steps", 2, "model")``) → where
that key or sequence item starts. A second map holds where each *value* starts, which is the
better place to point at for "expected a number, got 'abc'".

The document is built from PyYAML's *event* stream (safe loader: no tag is ever executed)
rather than from composed nodes, for three reasons: duplicate keys are seen as they happen,
nesting depth is counted without recursion (PyYAML's composer recurses and a few thousand
``[`` would blow Python's stack), and aliases are met before anything is expanded.

Aliases (``*name``) are refused outright. They are what alias bombs ("billion laughs") are
built from, and a config language whose every value has one place in one file is easier to
point errors at. Anchors alone are harmless and ignored.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any, Final, NoReturn, Protocol

import yaml
from yaml import events
from yaml.nodes import ScalarNode

from agentdesk.errors import Problem, SpecError

_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's parser when PyYAML was built with it (about ten times faster), else PyYAML's."""

MAX_DEPTH: Final = 64
"""Mappings and sequences nested deeper than this are refused."""

YamlPath = tuple[str | int, ...]
Positions = dict[YamlPath, tuple[int, int]]
"""Path → 1-based (line, column)."""

_PLAIN_TAGS: Final = {None, "!", "tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"}


@dataclass(frozen=True)
class YamlDocument:
    """One parsed YAML file: its data, where each key/item starts, and where each value starts."""

    file: str
    """The name problems are reported under (workspace-relative when possible)."""
    data: dict[str, Any]
    positions: Positions = field(default_factory=dict)
    """Where each mapping key and sequence item starts; ``()`` is the document's start."""
    values: Positions = field(default_factory=dict)
    """Where each value starts (for a scalar after ``key:``, the scalar itself)."""

    def where(self, path: YamlPath, *, value: bool = False) -> tuple[int, int]:
        """The position of ``path``, or of its nearest ancestor that has one."""
        table = self.values if value else self.positions
        for end in range(len(path), -1, -1):
            found = table.get(path[:end]) or self.positions.get(path[:end])
            if found:
                return found
        return (1, 1)

    def problem(self, path: YamlPath, message: str, *, value: bool = False) -> Problem:
        line, column = self.where(path, value=value)
        return Problem(self.file, line, column, message)

    def section(self, key: str) -> YamlDocument:
        """The mapping under a top-level key as a document of its own (paths lose the key)."""
        inner = self.data.get(key)
        data = inner if isinstance(inner, dict) else {}
        return YamlDocument(
            self.file, data, _rebase(self.positions, key), _rebase(self.values, key)
        )


def _rebase(table: Positions, key: str) -> Positions:
    return {path[1:]: pos for path, pos in table.items() if path[:1] == (key,)}


def parse_yaml(data: bytes | str, file: str) -> YamlDocument:
    """Parse one YAML document whose top level must be a mapping (an empty file is ``{}``).

    Raises ``SpecError`` with one Problem at the offending place.
    """
    text = _decode(data, file) if isinstance(data, bytes) else data
    return _DocumentBuilder(text, file).build()


def parse_yaml_shared(data: bytes | str, file: str) -> YamlDocument:
    """``parse_yaml``, remembered by (content, file). The loader reads a workspace's unchanged
    files again on every hot reload; this makes those reads nearly free (a pipeline: ~0.7 ms
    to parse, ~0.05 ms to copy). Each caller gets its own copy of the values (callers may
    change what they are given, e.g. a scenario's fault windows); positions are shared."""
    text = _decode(data, file) if isinstance(data, bytes) else data
    parsed = _parse_shared(text, file)
    return YamlDocument(parsed.file, _copy_tree(parsed.data), parsed.positions, parsed.values)


def _copy_tree(value: Any) -> Any:
    """A copy of parsed YAML: new dicts and lists, the same (immutable) scalars."""
    if type(value) is dict:
        return {key: _copy_tree(item) for key, item in value.items()}
    if type(value) is list:
        return [_copy_tree(item) for item in value]
    return value


@functools.lru_cache(maxsize=256)
def _parse_shared(text: str, file: str) -> YamlDocument:
    return _DocumentBuilder(text, file).build()


def _decode(data: bytes, file: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line, column = _line_column(data[: exc.start].decode("utf-8", "replace"))
        raise SpecError(
            [Problem(file, line, column, f"invalid UTF-8 (byte offset {exc.start})")]
        ) from None


def _line_column(before: str) -> tuple[int, int]:
    """1-based line and column of the character right after ``before``."""
    line = before.count("\n") + 1
    return line, len(before) - (before.rfind("\n") + 1) + 1


@dataclass
class _Frame:
    path: YamlPath
    container: dict[str, Any] | list[Any]
    key: str | None = None


class _DocumentBuilder:
    """Turns the event stream into plain values plus the two position maps."""

    def __init__(self, text: str, file: str) -> None:
        self.text = text
        self.file = file
        self.loader: Any
        self.lines: list[str] = []
        self.stack: list[_Frame] = []
        self.root: Any = None
        self.documents = 0
        self.positions: Positions = {(): (1, 1)}
        self.values: Positions = {}

    def build(self, loader: Any = _Loader) -> YamlDocument:
        try:
            self.loader = loader(self.text)
            self._run()
        except (yaml.MarkedYAMLError, yaml.reader.ReaderError) as exc:
            if loader is not yaml.SafeLoader:
                # PyYAML's own parser says more ("but got ':'"): ask it what is wrong.
                return _DocumentBuilder(self.text, self.file).build(yaml.SafeLoader)
            if isinstance(exc, yaml.MarkedYAMLError):
                raise SpecError([self._syntax_problem(exc)]) from None
            assert isinstance(exc, yaml.reader.ReaderError)
            line, column = _line_column(self.text[: exc.position])
            message = f"character U+{exc.character:04X} is not allowed in YAML"
            raise SpecError([Problem(self.file, line, column, message)]) from None
        if self.root is None:
            self.root = {}
        if not isinstance(self.root, dict):
            kind = _kind(self.root)
            self._fail((1, 1), f"expected a mapping at the top, got {kind}")
        return YamlDocument(self.file, self.root, self.positions, self.values)

    def _run(self) -> None:
        while not self.loader.check_event(events.StreamEndEvent):
            self._handle(self.loader.get_event())

    def _handle(self, event: events.Event) -> None:
        if isinstance(event, events.DocumentStartEvent):
            self._start_document(event)
        elif isinstance(event, events.AliasEvent):
            self._fail(_pos(event.start_mark), f"aliases (*{event.anchor}) are not supported here")
        elif isinstance(event, events.ScalarEvent):
            self._place(self._scalar(event), self._scalar_start(event))
        elif isinstance(event, events.MappingStartEvent | events.SequenceStartEvent):
            self._open(event)
        elif isinstance(event, events.MappingEndEvent | events.SequenceEndEvent):
            self.stack.pop()

    def _start_document(self, event: events.DocumentStartEvent) -> None:
        self.documents += 1
        if self.documents > 1:
            self._fail(_pos(event.start_mark), "expected one YAML document, found another '---'")

    def _open(self, event: events.CollectionStartEvent) -> None:
        if event.tag not in _PLAIN_TAGS:
            self._fail(_pos(event.start_mark), f"tag {event.tag} is not supported here")
        if len(self.stack) >= MAX_DEPTH:
            self._fail(_pos(event.start_mark), f"nested deeper than {MAX_DEPTH} levels")
        container: dict[str, Any] | list[Any]
        container = {} if isinstance(event, events.MappingStartEvent) else []
        path = self._place(container, _pos(event.start_mark))
        self.stack.append(_Frame(path, container))

    def _scalar(self, event: events.ScalarEvent) -> Any:
        tag = event.tag if event.tag not in (None, "!") else None
        tag = tag or self.loader.resolve(ScalarNode, event.value, event.implicit)
        try:
            return self.loader.construct_object(ScalarNode(tag, event.value, style=event.style))
        except yaml.constructor.ConstructorError as exc:
            self._fail(_pos(event.start_mark), f"unsupported YAML value: {exc.problem}")

    def _scalar_start(self, event: events.ScalarEvent) -> tuple[int, int]:
        """Where the scalar's text starts: for ``|`` and ``>`` blocks, the line after the sign."""
        line, column = _pos(event.start_mark)
        if event.style not in ("|", ">"):
            return line, column
        if not self.lines:
            self.lines = self.text.splitlines()
        body = self.lines[line] if line < len(self.lines) else ""
        return line + 1, len(body) - len(body.lstrip(" ")) + 1

    def _place(self, value: Any, pos: tuple[int, int]) -> YamlPath:
        """Put a value where it belongs; returns its path."""
        if not self.stack:
            self.root = value
            return ()
        frame = self.stack[-1]
        if isinstance(frame.container, list):
            path = (*frame.path, len(frame.container))
            frame.container.append(value)
            self.positions[path] = self.values[path] = pos
            return path
        if frame.key is None:
            frame.key = self._key(frame, value, pos)
            self.positions[(*frame.path, frame.key)] = pos
            return (*frame.path, frame.key)
        path = (*frame.path, frame.key)
        frame.container[frame.key] = value
        self.values[path] = pos
        frame.key = None
        return path

    def _key(self, frame: _Frame, key: Any, pos: tuple[int, int]) -> str:
        if isinstance(key, dict | list):
            self._fail(pos, "a mapping key must be a string, not a mapping or a list")
        if not isinstance(key, str):
            self._fail(pos, f"a mapping key must be a string, got {_kind(key)}: quote it")
        if key in frame.container:
            line, _ = self.positions[(*frame.path, key)]
            self._fail(pos, f"duplicate key '{key}' (first defined at line {line})")
        return key

    def _fail(self, pos: tuple[int, int], message: str) -> NoReturn:
        line, column = pos
        raise SpecError([Problem(self.file, line, column, message)])

    def _syntax_problem(self, exc: yaml.MarkedYAMLError) -> Problem:
        mark = exc.problem_mark or exc.context_mark
        line, column = _pos(mark) if mark else (0, 0)
        if mark and self.text[mark.index : mark.index + 1] == "\t":
            return Problem(self.file, line, column, "tab character: YAML indents with spaces")
        detail = "; ".join(part for part in (exc.context, exc.problem) if part)
        return Problem(self.file, line, column, f"YAML syntax error: {detail}")


class _Mark(Protocol):
    line: int
    column: int


def _pos(mark: _Mark | None) -> tuple[int, int]:
    return (mark.line + 1, mark.column + 1) if mark else (1, 1)


def _kind(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, int | float):
        return f"the number {value}"
    return f"{type(value).__name__} {value!r}"

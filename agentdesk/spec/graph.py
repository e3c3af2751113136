"""The step tree of a pipeline, flattened, and the checks that need the whole tree.

Step ids are unique across the pipeline, and every jump (``next``, a route's ``goto`` and
``default``, ``on_error``) goes *forward* to a step of the same list, or to ``end``. Forward
only is what keeps a pipeline a DAG: repetition has one spelling, the ``loop`` step, which is
bounded. The same-list rule keeps jumps out of a ``parallel`` branch or a loop body, where
"after this step" has no single meaning.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from agentdesk.errors import Problem
from agentdesk.spec.models import AnyStep, LoopStep, ParallelStep, RouteStep
from agentdesk.spec.validation import suggestion
from agentdesk.spec.yamlpos import YamlDocument, YamlPath

END = "end"
"""The jump target that stops the run (or the loop iteration, inside a loop body)."""


@dataclass(frozen=True)
class PlacedStep:
    """A step with where it sits: its YAML path, its list, its order, what encloses it."""

    step: AnyStep
    loc: YamlPath
    """Path of the step's mapping in the pipeline file (``("steps", 2, "steps", 0)``)."""
    scope: YamlPath
    """Path of the list holding it; jumps stay within one scope."""
    ancestors: tuple[AnyStep, ...] = ()
    """Enclosing parallel and loop steps, outermost first."""

    @property
    def in_loop(self) -> bool:
        return any(isinstance(a, LoopStep) for a in (*self.ancestors, self.step))


def place_steps(steps: Sequence[AnyStep | None], scope: YamlPath = ("steps",)) -> list[PlacedStep]:
    """Every step of the tree in depth-first order (a container before its children).

    ``None`` stands for a step that did not validate: it is skipped but keeps its index.
    """
    placed: list[PlacedStep] = []
    _walk(steps, scope, (), placed)
    return placed


def _walk(
    steps: Sequence[AnyStep | None],
    scope: YamlPath,
    ancestors: tuple[AnyStep, ...],
    out: list[PlacedStep],
) -> None:
    for index, step in enumerate(steps):
        if step is None:
            continue
        loc = (*scope, index)
        out.append(PlacedStep(step, loc, scope, ancestors))
        if isinstance(step, ParallelStep | LoopStep):
            _walk(step.steps, (*loc, "steps"), (*ancestors, step), out)


def declared_steps(data: Any, scope: YamlPath = ("steps",)) -> list[tuple[YamlPath, str]]:
    """(path, id) of every step mapping in the raw file, valid or not, in file order."""
    found: list[tuple[YamlPath, str]] = []
    steps = data.get(scope[-1]) if isinstance(data, dict) else None
    for index, item in enumerate(steps if isinstance(steps, list) else []):
        loc = (*scope, index)
        if isinstance(item, dict) and isinstance(item.get("id"), str):
            found.append((loc, item["id"]))
        found += declared_steps(item, (*loc, "steps"))
    return found


def check_ids(declared: list[tuple[YamlPath, str]], doc: YamlDocument) -> list[Problem]:
    first: dict[str, YamlPath] = {}
    problems = []
    for loc, step_id in declared:
        earlier = first.setdefault(step_id, loc)
        if earlier is not loc:
            line = doc.where((*earlier, "id"))[0]
            message = f"duplicate step id '{step_id}' (first defined at line {line})"
            problems.append(doc.problem((*loc, "id"), message, value=True))
    return problems


def check_jumps(
    placed: list[PlacedStep], declared: list[tuple[YamlPath, str]], doc: YamlDocument
) -> list[Problem]:
    """Jumps to unknown, earlier or out-of-list steps. Targets are looked up among every step
    in the file (``declared``), so a jump to a step that did not validate is still checked."""
    order = {loc: index for index, (loc, _) in enumerate(declared)}
    targets: dict[str, YamlPath] = {}
    for loc, step_id in declared:
        targets.setdefault(step_id, loc)
    problems = []
    for item in placed:
        for field_path, target in _jumps(item):
            error = _jump_error(item, field_path[-1], target, targets, order)
            if error:
                problems.append(doc.problem((*item.loc, *field_path), error, value=True))
    return problems


def _jumps(item: PlacedStep) -> Iterator[tuple[YamlPath, str]]:
    step = item.step
    if step.next is not None:
        yield ("next",), step.next
    if step.on_error not in ("fail", "continue"):
        yield ("on_error",), step.on_error
    if isinstance(step, RouteStep):
        for index, route in enumerate(step.routes):
            yield ("routes", index, "goto"), route.goto
        yield ("default",), step.default


def _jump_error(
    source: PlacedStep,
    field: str | int,
    target: str,
    targets: dict[str, YamlPath],
    order: dict[YamlPath, int],
) -> str | None:
    if target == END:
        return None
    loc = targets.get(target)
    if loc is None:
        return f"{field}: unknown step '{target}'{suggestion(target, targets)}"
    if loc[:-1] != source.scope:
        return f"{field}: step '{target}' is not in the same step list as '{source.step.id}'"
    if order[loc] <= order[source.loc]:
        return (
            f"{field}: jumps back to '{target}'; steps only jump forward "
            "(use a loop step to repeat)"
        )
    return None

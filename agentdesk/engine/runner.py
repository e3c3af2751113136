"""The runner: executes a pipeline's steps for one input and publishes what happens.

Steps run in list order; ``next``, routes and ``on_error`` jump forward within the same list;
``parallel`` runs its children concurrently and ``loop`` repeats its children up to its bound.
Tool and LLM steps are delegated to their executors, which make calls through the shared
``CallExecutor`` (so every session of one engine shares its breakers, as requests in one
production process do). A step that cannot produce an output raises ``StepFailed``; its
``on_error`` decides whether the run stops, continues with a null output, or jumps.

The runner reads time only from the running loop and randomness only from seeded generators:
it runs the same on the virtual clock and on a real one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any

from agentdesk.engine import spending
from agentdesk.engine.bus import EventBus
from agentdesk.engine.calls import CallExecutor
from agentdesk.engine.events import (
    LoopIteration,
    RouteTaken,
    RunFinished,
    RunStarted,
    RunStatus,
    StepFinished,
    StepStarted,
    ValidationFailed,
)
from agentdesk.engine.llm_step import LLMCall, Message, run_llm_step
from agentdesk.engine.policies.allowlist import Allowlist, rules_for
from agentdesk.engine.policies.breaker import BreakerBoard
from agentdesk.engine.policies.budget import BudgetMeter, Limits, RunBudget
from agentdesk.engine.rng import derive_seed
from agentdesk.engine.state import EPOCH, BudgetStop, RunState, StepFailed, stamp
from agentdesk.engine.structured import SchemaValidator
from agentdesk.engine.tool_step import run_tool_step
from agentdesk.engine.transport import ServiceClient
from agentdesk.spec.loader import LoadedPipeline, Workspace
from agentdesk.spec.models import (
    AnyStep,
    BreakerSpec,
    BudgetsSpec,
    LLMStep,
    LoopStep,
    ParallelStep,
    PolicySpec,
    RouteStep,
    ToolStep,
    ValidateStep,
)
from agentdesk.spec.templates import TemplateRenderError
from agentdesk.tokens.prices import PriceBook

END = "end"


@dataclass(frozen=True)
class RunResult:
    run_id: str
    session: int
    status: RunStatus
    stop_reason: str
    output: Any
    duration: float


def run_id_for(pipeline: str, seed: int, session: int, turn: int = 0) -> str:
    """A run's id: stable for (pipeline, seed, session, turn), so replays and logs line up.
    A session's first run (turn 0) has the id it had before sessions had turns."""
    keys = (pipeline, session) if not turn else (pipeline, session, turn)
    return f"run-{derive_seed(seed, *keys):016x}"[:16]


class Engine:
    """One pipeline with one set of services, seed and scenario; runs any number of sessions."""

    def __init__(
        self,
        workspace: Workspace,
        pipeline: LoadedPipeline,
        clients: Mapping[str, ServiceClient],
        bus: EventBus,
        *,
        seed: int,
        scenario: str,
        budgets: BudgetsSpec | None = None,
    ) -> None:
        self.workspace = workspace
        self.pipeline = pipeline
        self.bus = bus
        self.seed = seed
        self.scenario = scenario
        self._validators: dict[str, SchemaValidator] = {}
        self._allowlists: dict[str, Allowlist] = {}
        self._llm_calls: dict[str, LLMCall] = {}
        self._breaker_specs: dict[str, BreakerSpec] = {}
        self._positions: dict[int, dict[str, int]] = {}
        self.prices = PriceBook(workspace.spec.models)
        self.budgets = workspace.spec.budgets.overridden_by(pipeline.spec.budgets).overridden_by(
            budgets
        )
        self._run_limits = Limits.from_spec(self.budgets.run)
        self._session_limits = Limits.from_spec(self.budgets.session)
        self._sessions: dict[int, BudgetMeter] = {}
        self._prepare(pipeline.spec.steps)
        self.board = BreakerBoard(self._breaker_spec, RunState.now)
        self._executor = CallExecutor(clients, self.board)
        self.epoch: float | None = None
        """Loop time of the first run; every event's ``t`` counts from it."""

    # --- preparation (once per engine) --------------------------------------------------------

    def _prepare(self, steps: list[AnyStep]) -> None:
        self._positions[id(steps)] = {step.id: i for i, step in enumerate(steps)}
        for step in steps:
            schema = self.pipeline.schemas.get(step.id)
            if schema is not None:
                self._validators[step.id] = SchemaValidator(schema)
            if isinstance(step, LLMStep):
                self._prepare_llm(step)
            elif isinstance(step, ToolStep):
                self._allowlists[step.id] = Allowlist(rules_for(step))
                self._breaker_specs.setdefault(
                    f"service:{step.service}", self._policy(step).breaker
                )
            elif isinstance(step, ParallelStep | LoopStep):
                self._prepare(step.steps)

    def _prepare_llm(self, step: LLMStep) -> None:
        self._llm_calls[step.id] = LLMCall(
            step=step,
            path=step.id,
            models=self.workspace.spec.models,
            validator=self._validators.get(step.id),
            schema=self.pipeline.schemas.get(step.id),
            prices=self.prices,
        )
        for model in (step.model, *step.fallback):
            self._breaker_specs.setdefault(f"model:{model}", self._policy(step).breaker)

    def _policy(self, step: AnyStep) -> PolicySpec:
        return self.pipeline.policies[step.id]

    def _breaker_spec(self, name: str) -> BreakerSpec:
        return self._breaker_specs.get(name, self.workspace.spec.policies.breaker)

    # --- running ------------------------------------------------------------------------------

    async def run(self, input: Any, session: int = 0, turn: int = 0) -> RunResult:
        """One run of the pipeline. ``turn`` numbers a session's successive runs (a user's
        requests under load): each has its own run id, so its own random draws, while the
        session's budget is shared."""
        if self.epoch is None:
            self.epoch = RunState.now()
        EPOCH.set(self.epoch)
        run_id = run_id_for(self.pipeline.spec.name, self.seed, session, turn)
        state = RunState(
            run_id=run_id,
            session=session,
            seed=self.seed,
            input=input,
            bus=self.bus,
            started=RunState.now(),
        )
        state.budget = self._budget_for(session, state.started)
        await state.emit(
            RunStarted(
                t=stamp(),
                run_id=run_id,
                pipeline=self.pipeline.spec.name,
                session=session,
                seed=self.seed,
                scenario=self.scenario,
                input=input,
                release=self.pipeline.release,
            )
        )
        status: RunStatus = "ok"
        reason, output = "completed", None
        try:
            await self._run_sequence(state, self.pipeline.spec.steps, "")
            output = state.outputs.get(state.last_step) if state.last_step else None
        except StepFailed as exc:
            status, reason = "failed", exc.stop_reason
            output = dict(state.outputs)
        duration = round(state.now() - state.started, 6)
        await spending.report(state)
        await state.emit(
            RunFinished(
                t=stamp(),
                run_id=run_id,
                status=status,
                stop_reason=reason,
                output=output,
                duration=duration,
            )
        )
        return RunResult(run_id, session, status, reason, output, duration)

    def _budget_for(self, session: int, now: float) -> RunBudget | None:
        meters = []
        if self._run_limits:
            meters.append(BudgetMeter("run", self._run_limits, now))
        if self._session_limits:
            if session not in self._sessions:
                self._sessions[session] = BudgetMeter("session", self._session_limits, now)
            meters.append(self._sessions[session])
        return RunBudget(meters) if meters else None

    async def run_sessions(
        self,
        inputs: Iterable[Any],
        concurrency: int,
        on_result: Callable[[RunResult], None] | None = None,
    ) -> int:
        """Run one session per input, at most ``concurrency`` at a time; returns the count."""
        numbered: Iterator[tuple[int, Any]] = enumerate(inputs)
        done = 0

        async def worker() -> None:
            nonlocal done
            for session, item in numbered:
                result = await self.run(item, session)
                done += 1
                if on_result is not None:
                    on_result(result)

        await asyncio.gather(*(worker() for _ in range(max(1, concurrency))))
        return done

    async def _run_sequence(self, state: RunState, steps: list[AnyStep], prefix: str) -> str:
        """Run a list of steps, following jumps; returns ``end`` if the run should stop."""
        positions = self._positions[id(steps)]
        index = 0
        while index < len(steps):
            target = await self._run_step(state, steps[index], prefix)
            if target == END:
                return END
            index = positions[target] if target else index + 1
        return ""

    async def _run_step(self, state: RunState, step: AnyStep, prefix: str) -> str | None:
        path = prefix + step.id
        await spending.admit_step(state, path)
        artifacts = self.pipeline.step_artifacts(step.id)
        await state.emit(
            StepStarted(
                t=stamp(), run_id=state.run_id, step=path, kind=step.kind, artifacts=artifacts
            )
        )
        started = state.now()
        failure: StepFailed | None = None
        output: Any = None
        jump: str | None = None
        try:
            output, jump = await self._execute_checked(state, step, path)
        except StepFailed as exc:
            exc.step_path = exc.step_path or path
            failure = exc
        await state.emit(
            StepFinished(
                t=stamp(),
                run_id=state.run_id,
                step=path,
                kind=step.kind,
                status="ok" if failure is None else "failed",
                duration=round(state.now() - started, 6),
                output=output,
                error="" if failure is None else str(failure),
            )
        )
        if failure is None:
            state.outputs[step.id] = output
            state.last_step = step.id
            return jump or step.next
        if step.on_error == "fail" or isinstance(failure, BudgetStop):
            raise failure
        state.outputs[step.id] = None
        return step.next if step.on_error == "continue" else step.on_error

    async def _execute_checked(
        self, state: RunState, step: AnyStep, path: str
    ) -> tuple[Any, str | None]:
        try:
            return await self._execute(state, step, path)
        except TemplateRenderError as exc:
            # Strict templates: a value an earlier step did not produce (schema drift, a model
            # that left out a field) stops here instead of becoming an empty string downstream.
            raise StepFailed("template_error", str(exc)) from exc

    async def _execute(self, state: RunState, step: AnyStep, path: str) -> tuple[Any, str | None]:
        if isinstance(step, ToolStep):
            policy = self._policy(step)
            return await run_tool_step(
                self._executor,
                state,
                step,
                path,
                self.pipeline.steps[step.id],
                self._allowlists[step.id],
                policy,
                _deadline(state, policy),
            ), None
        if isinstance(step, LLMStep):
            policy = self._policy(step)
            call = self._llm_calls[step.id]
            if call.path != path:  # a step inside a loop: review[2]/judge
                call = replace(call, path=path)
            return await run_llm_step(
                self._executor,
                state,
                call,
                self._messages(state, step),
                policy,
                _deadline(state, policy),
            ), None
        if isinstance(step, ValidateStep):
            return await self._validate(state, step, path), None
        if isinstance(step, RouteStep):
            return await self._route(state, step, path)
        if isinstance(step, ParallelStep):
            return await self._parallel(state, step, path), None
        return await self._loop(state, step, path)

    def _messages(self, state: RunState, step: LLMStep) -> list[Message]:
        ctx = state.context()
        return [
            {"role": m.role, "content": m.template.render(ctx)}
            for m in self.pipeline.steps[step.id].messages
        ]

    async def _validate(self, state: RunState, step: ValidateStep, path: str) -> Any:
        compiled = self.pipeline.steps[step.id]
        assert compiled.value is not None
        value = compiled.value.render(state.context())
        errors = self._validators[step.id].errors(value)
        if errors:
            await state.emit(
                ValidationFailed(
                    t=stamp(), run_id=state.run_id, step=path, attempt=0, errors=errors, repair=0
                )
            )
            raise StepFailed("validation_failed", errors[0])
        return value

    async def _route(self, state: RunState, step: RouteStep, path: str) -> tuple[Any, str]:
        ctx = state.context()
        target, condition = step.default, "default"
        for route in self.pipeline.steps[step.id].routes:
            if route.when.evaluate(ctx):
                target, condition = route.goto, route.when.source
                break
        await state.emit(
            RouteTaken(
                t=stamp(), run_id=state.run_id, step=path, target=target, condition=condition
            )
        )
        return {"target": target}, target

    async def _parallel(self, state: RunState, step: ParallelStep, path: str) -> Any:
        results = await asyncio.gather(
            *(self._run_step(state, child, f"{path}/") for child in step.steps),
            return_exceptions=True,
        )
        for result in results:
            if isinstance(result, BaseException):
                raise result
        return {child.id: state.outputs.get(child.id) for child in step.steps}

    async def _loop(self, state: RunState, step: LoopStep, path: str) -> tuple[Any, str | None]:
        outer = state.loop
        until = self.pipeline.steps[step.id].until
        bound = step.max_iterations or 1
        jump: str | None = None
        try:
            for iteration in range(1, bound + 1):
                state.loop = {"iteration": iteration, "max_iterations": bound}
                if await self._run_sequence(state, step.steps, f"{path}[{iteration}]/") == END:
                    jump = END
                    break
                done = until.evaluate(state.context()) if until is not None else False
                await state.emit(
                    LoopIteration(
                        t=stamp(), run_id=state.run_id, step=path, iteration=iteration, done=done
                    )
                )
                if done:
                    break
        finally:
            state.loop = outer
        return {child.id: state.outputs.get(child.id) for child in step.steps}, jump


def _deadline(state: RunState, policy: PolicySpec) -> float | None:
    return None if policy.timeout.step is None else state.now() + policy.timeout.step

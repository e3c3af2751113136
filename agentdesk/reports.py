"""Rich renderings of read models for the command line.

Only presentation lives here: every number comes from a projection. Untrusted text (stop
reasons can carry a model's words, errors carry a server's) goes through ``Text`` objects,
never through markup.
"""

from __future__ import annotations

from collections.abc import Iterable

from rich import box
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from agentdesk.projections.latency import LatencyDigest
from agentdesk.projections.summary import RunSummary

_STATE_STYLE = {"closed": "green", "open": "bold red", "half_open": "yellow"}


def ms(seconds: float) -> str:
    """A duration in simulated time, short: 12ms, 1.24s, 3m05s."""
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    if seconds < 120:
        return f"{seconds:.2f}s"
    minutes, rest = divmod(seconds, 60)
    return f"{minutes:.0f}m{rest:02.0f}s"


def dollars(value: float) -> str:
    """Money, with enough digits that a fraction of a cent still shows: $0.000412, $1.2345."""
    if value == 0:
        return "$0"
    return f"${value:.6f}" if value < 0.01 else f"${value:,.4f}"


def _pcts(digest: LatencyDigest) -> tuple[str, str, str]:
    if not digest.count:
        return ("-", "-", "-")
    return (ms(digest.quantile(0.5)), ms(digest.quantile(0.95)), ms(digest.quantile(0.99)))


def _mix(counter: Iterable[tuple[str, int]]) -> Text:
    return Text(", ".join(f"{label} ×{count}" for label, count in counter) or "-")


def run_summary(summary: RunSummary, title: str, real_clock: bool = False) -> RenderableType:
    return Group(
        _header(summary, title, "elapsed" if real_clock else "simulated"),
        _steps_table(summary, "real" if real_clock else "simulated"),
        _failures(summary),
        *([_tokens_table(summary)] if summary.models else []),
        *([_budgets_table(summary)] if summary.budgets.scopes else []),
        _services_table(summary),
        *(
            [_breakers_table(summary, "real" if real_clock else "simulated")]
            if summary.breakers
            else []
        ),
        _outcomes(summary),
    )


def _header(summary: RunSummary, title: str, clock: str) -> Text:
    p50, p95, p99 = _pcts(summary.duration)
    text = Text()
    text.append(title, style="bold")
    text.append(
        f"\n{summary.runs} run(s) · {summary.events} events · "
        f"{ms(summary.sim_time)} {clock} · run latency p50 {p50} p95 {p95} p99 {p99}"
    )
    tokens = summary.tokens
    if tokens.prompt or tokens.completion:
        mark = "~" if tokens.approximate else ""
        text.append(
            f"\ntokens {mark}{tokens.prompt:,} prompt + {mark}{tokens.completion:,} completion"
            f" · cost {dollars(tokens.usd)}"
        )
        if tokens.unpriced:
            text.append("  (some models have no price: counted as $0)", style="yellow")
        if tokens.approximate:
            text.append("  (approximate: tiktoken encodings unavailable)", style="yellow")
        if tokens.disagreements:
            text.append(
                f"  · provider usage disagrees on {tokens.disagreements} call(s)", style="yellow"
            )
    return text


def _steps_table(summary: RunSummary, clock: str) -> Table:
    table = Table(
        title=f"Steps (latency in {clock} time)",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
    )
    table.add_column("step", no_wrap=True)
    for column in ("ok", "fail", "tries", "retry", "fallbk", "repair", "p50", "p95", "p99"):
        table.add_column(column, justify="right", no_wrap=True)
    for s in summary.steps.values():
        name = Text(s.name)
        name.append(f" {s.kind}", style="dim")
        table.add_row(
            name,
            str(s.ok),
            _red(s.failed),
            _zero(s.attempts),
            _zero(s.retries),
            _zero(s.fallbacks),
            _zero(s.repairs),
            *_pcts(s.latency),
        )
    return table


def _failures(summary: RunSummary) -> Text:
    """One line per step that had trouble: attempt errors → why the step failed."""
    text = Text()
    for s in summary.steps.values():
        if not (s.errors or s.failures or s.refused or s.invalid_outputs):
            continue
        text.append(f"  {s.name}: ", style="bold")
        parts = [f"{label} ×{n}" for label, n in s.errors.most_common(4)]
        if s.invalid_outputs:
            parts.append(f"invalid output ×{s.invalid_outputs}")
        if s.refused:
            parts.append(f"refused ×{s.refused}")
        text.append(", ".join(parts) or "-")
        if s.failures:
            text.append("  → failed: ")
            text.append(", ".join(f"{r} ×{n}" for r, n in s.failures.most_common(4)), style="red")
        text.append("\n")
    if text:
        text = Text("Trouble by step\n", style="italic") + text
    return text


def _tokens_table(summary: RunSummary) -> Table:
    """agentdesk's own count beside the provider's reported usage, per model."""
    table = Table(
        title="Tokens: agentdesk's count / the provider's reported usage",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
    )
    table.add_column("model", no_wrap=True)
    for column in ("calls", "prompt", "completion", "cost", "differ"):
        table.add_column(column, justify="right", no_wrap=True)
    for name, t in sorted(summary.models.items()):
        table.add_row(
            Text(name),
            str(t.calls),
            _side_by_side(t.prompt, t.reported_prompt, t.approximate),
            _side_by_side(t.completion, t.reported_completion, t.approximate),
            Text("unpriced", style="yellow") if t.unpriced else Text(dollars(t.usd)),
            _red(t.disagreements),
        )
    return table


def _side_by_side(local: int, reported: int, approximate: bool) -> Text:
    text = Text(f"{'~' if approximate else ''}{local:,} / ")
    text.append(f"{reported:,}", style="yellow" if reported != local else "dim")
    return text


def _budgets_table(summary: RunSummary) -> Table:
    runs = "this run" if summary.runs == 1 else "the most any run spent"
    table = Table(
        title=f"Budgets (used: {runs})", title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False
    )
    for column in ("scope", "budget", "used", "limit", "use", "stopped runs"):
        table.add_column(column, justify="left" if column in ("scope", "budget") else "right")
    for scope, b in sorted(summary.budgets.scopes.items()):
        used = b.last if summary.runs == 1 else b.peak
        for kind, limit in b.limits.items():
            value = used.get(kind, 0.0)
            share = value / limit if limit else 0.0
            style = "red" if b.exhausted[kind] else ("yellow" if share >= 0.8 else "")
            table.add_row(
                scope,
                kind,
                _amount(kind, value),
                _amount(kind, limit),
                Text(f"{share:.0%}", style=style),
                _red(b.exhausted[kind]),
            )
    if summary.budgets.output_limited:
        table.caption = f"{summary.budgets.output_limited} call(s) had their output bound lowered"
    return table


def _amount(kind: str, value: float) -> str:
    if kind == "usd":
        return dollars(value)
    if kind == "seconds":
        return ms(value)
    return f"{value:,.0f}"


def _zero(count: int) -> Text:
    return Text(str(count), style="dim" if not count else "")


def _services_table(summary: RunSummary) -> Table:
    table = Table(title="Services", title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    for column in ("service", "calls", "ok", "error rate", "p50", "p95", "p99", "error mix"):
        table.add_column(column, justify="left" if column in ("service", "error mix") else "right")
    for s in sorted(summary.services.values(), key=lambda s: s.name):
        rate = (s.calls - s.ok) / s.calls if s.calls else 0.0
        table.add_row(
            Text(s.name),
            str(s.calls),
            str(s.ok),
            f"{rate:.1%}",
            *_pcts(s.latency),
            _mix(s.errors.most_common(5)),
        )
    return table


def _breakers_table(summary: RunSummary, clock: str) -> Table:
    table = Table(title="Breakers", title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    for column in ("breaker", "state", "opened", f"history ({clock} time)"):
        table.add_column(column)
    for b in sorted(summary.breakers.values(), key=lambda b: b.name):
        history = Text()
        for e in b.recent[-6:]:
            history.append(
                f"{ms(e.t)} {e.from_state}→{e.to_state}  ", style=_STATE_STYLE.get(e.to_state, "")
            )
        table.add_row(
            Text(b.name), Text(b.state, style=_STATE_STYLE.get(b.state, "")), str(b.opened), history
        )
    return table


def _outcomes(summary: RunSummary) -> Table:
    table = Table(title="Outcomes", title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("stop reason")
    table.add_column("runs", justify="right")
    for reason, count in summary.stop_reasons.most_common(10):
        style = "green" if reason == "completed" else "red"
        table.add_row(Text(reason, style=style), str(count))
    return table


def _red(count: int) -> Text:
    return Text(str(count), style="red" if count else "")

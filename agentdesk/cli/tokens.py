"""``agentdesk tokens``: what a chat-completions request's prompt costs, before it is sent.

Reads a request body (a file, or ``-`` for stdin), counts its prompt tokens the way OpenAI
bills them and prices them for ``--model`` (default: the body's ``model``). Everything taken
from the body or the command line is printed as plain text, never as Rich markup.
"""

from __future__ import annotations

import json
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import click
from rich.table import Table
from rich.text import Text

from agentdesk.cli.console import errors_reported, stdout
from agentdesk.tokens.chat_request import PromptEstimate, RequestBodyError
from agentdesk.tokens.prices import PICO_PER_USD, PriceBook


@click.command()
@click.argument("file", default="-", metavar="FILE")
@click.option("-m", "--model", help="Count and price for this model (default: the body's).")
@click.option(
    "-w",
    "--workspace",
    type=click.Path(file_okay=False, path_type=Path),
    help="Apply this workspace's models: their prices and the names they are sent as.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
def tokens(file: str, model: str | None, workspace: Path | None, as_json: bool) -> None:
    """Count and price the prompt of a chat-completions request body (FILE, or - for stdin)."""
    with errors_reported():
        from agentdesk.tokens.chat_request import estimate_prompt, read_chat_request
        from agentdesk.tokens.counting import shared_counter

        source, text = _read(file)
        request = read_chat_request(text, source)
        chosen = model or request.model
        if not chosen:
            raise RequestBodyError(f'{source}: no "model" in the request body; pass --model')
        estimate = estimate_prompt(request, chosen, _prices(workspace), shared_counter())
        if as_json:
            click.echo(json.dumps(as_dict(source, estimate), indent=2, ensure_ascii=False))
        else:
            stdout.print(_table(source, estimate))


def _read(file: str) -> tuple[str, str]:
    """The source's name for messages, and its text (UTF-8, a leading BOM allowed)."""
    source = "<stdin>" if file == "-" else file
    try:
        data = sys.stdin.buffer.read() if file == "-" else Path(file).read_bytes()
    except OSError as exc:
        raise RequestBodyError(f"{source}: cannot read: {exc.strerror or exc}") from None
    try:
        return source, data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise RequestBodyError(
            f"{source}: not UTF-8 text (byte {exc.start + 1} is 0x{data[exc.start]:02x})"
        ) from None


def _prices(workspace: Path | None) -> PriceBook:
    if workspace is None:
        return PriceBook({})
    from agentdesk.simulation import find_workspace
    from agentdesk.spec.loader import load_workspace

    return PriceBook(load_workspace(find_workspace(workspace)).spec.models)


def as_dict(source: str, estimate: PromptEstimate) -> dict[str, Any]:
    """The ``--json`` document; its keys and their order are part of the interface."""
    count, price, cost = estimate.count, estimate.price, estimate.cost_pico
    return {
        "file": source,
        "model": estimate.model,
        "prompt_tokens": count.tokens,
        "encoding": count.encoding,
        "encoding_guessed": count.fallback,
        "approximate": count.approximate,
        "uncounted_parts": estimate.uncounted_parts,
        "priced": price is not None,
        "cost_usd": None if cost is None else float(_dollars(cost)),
        "cost_pico_usd": cost,
        "price": None
        if price is None
        else {
            "input_per_mtok": float(price.input_per_mtok),
            "cached_input_per_mtok": None
            if price.cached_input_per_mtok is None
            else float(price.cached_input_per_mtok),
            "output_per_mtok": float(price.output_per_mtok),
            "source": price.source,
        },
    }


def _table(source: str, estimate: PromptEstimate) -> Table:
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold")
    table.add_column()
    table.add_row("request", Text(f"{source} · {estimate.model}"))
    table.add_row("prompt tokens", _tokens_text(estimate))
    table.add_row("encoding", _encoding_text(estimate))
    table.add_row("cost", _cost_text(estimate))
    return table


def _tokens_text(estimate: PromptEstimate) -> Text:
    count = estimate.count
    text = Text(f"~{count.tokens:,}" if count.approximate else f"{count.tokens:,}")
    if count.approximate:
        text.append("  approximate: tiktoken could not load the encoding", style="yellow")
    if estimate.uncounted_parts:
        parts = estimate.uncounted_parts
        text.append(
            f"  + {parts} image/audio/file part{'s' if parts != 1 else ''} not counted",
            style="yellow",
        )
    return text


def _encoding_text(estimate: PromptEstimate) -> Text:
    text = Text(estimate.count.encoding)
    if estimate.count.fallback:
        text.append("  guessed: agentdesk does not know this model's encoding", style="yellow")
    return text


def _cost_text(estimate: PromptEstimate) -> Text:
    price, cost = estimate.price, estimate.cost_pico
    if price is None or cost is None:
        return Text.assemble(
            ("unpriced", "yellow"),
            "  genai-prices has no price for it; give it one in a workspace's agentdesk.yaml "
            "(input_per_mtok, output_per_mtok) and pass --workspace",
        )
    approximate = "~" if estimate.count.approximate else ""
    return Text.assemble(
        (f"{approximate}${_plain(_dollars(cost))}", "bold"),
        f"  at ${_plain(price.input_per_mtok)} per million input tokens · {price.source}",
    )


def _dollars(pico: int) -> Decimal:
    return Decimal(pico) / PICO_PER_USD


def _plain(amount: Decimal) -> str:
    """A decimal without exponent or trailing zeros: 0.00031, 2.5, 10."""
    text = format(amount.normalize(), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text

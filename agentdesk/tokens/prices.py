"""What tokens cost: prices from the genai-prices database, overridden per workspace.

A price is per million tokens (input, cached input, output), the way providers publish them.
Internally money is counted in integer **pico-dollars** (1e-12 USD): every published price with
up to six decimals per million tokens is a whole number of pico-dollars per token, so costs add
up exactly and a budget check (``cost <= remaining``) means what it says — no float rounding
can let a run spend a hair more than its limit.

Where a price comes from, in order:

1. the workspace's model entry (``input_per_mtok``/``output_per_mtok``, optionally
   ``cached_input_per_mtok``): for self-hosted, fine-tuned and simulated models, or to pin a
   negotiated price;
2. the genai-prices database (pydantic's maintained snapshot of provider price pages), looked up
   by the model name sent on the wire: OpenAI's models first, then any provider's, then a
   ``provider/model`` name split at its first slash;
3. none: the model is **unpriced**; its calls cost 0 and say so (``priced=False``), never a
   silent guess.

genai-prices is imported lazily (0.15 s for the import and the first lookup) and never updates
itself from the network: the snapshot in the installed package is the database.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from agentdesk.spec.models import ModelSpec

PICO_PER_USD = 10**12
TOKENS_PER_MTOK = 10**6


@dataclass(frozen=True, slots=True)
class Price:
    """A model's price per million tokens, and where it came from."""

    input_per_mtok: Decimal
    output_per_mtok: Decimal
    cached_input_per_mtok: Decimal | None
    source: str
    """``workspace`` or ``genai-prices <version> (<provider>/<model id>)``."""

    @property
    def input_pico(self) -> int:
        """Pico-dollars per input token."""
        return _pico_per_token(self.input_per_mtok)

    @property
    def output_pico(self) -> int:
        return _pico_per_token(self.output_per_mtok)

    @property
    def cached_input_pico(self) -> int:
        cached = self.cached_input_per_mtok
        return self.input_pico if cached is None else _pico_per_token(cached)

    def cost_pico(self, prompt: int, completion: int, cached: int = 0) -> int:
        """The cost of one call, in pico-dollars; ``cached`` prompt tokens are billed cheaper."""
        cached = min(max(cached, 0), prompt)
        return (
            (prompt - cached) * self.input_pico
            + cached * self.cached_input_pico
            + completion * self.output_pico
        )


def usd(pico: int) -> float:
    """Pico-dollars as dollars, for display and for events."""
    return pico / PICO_PER_USD


def pico(dollars: float | Decimal | str) -> int:
    """Dollars (a budget, say) as whole pico-dollars, rounded down: never more than given."""
    return int(Decimal(str(dollars)) * PICO_PER_USD)


def _pico_per_token(per_mtok: Decimal) -> int:
    # To the nearest pico-dollar, not down: a few database prices carry float noise
    # (0.13999999999999999 per million tokens) that truncation would turn into a price cut.
    exact = per_mtok * PICO_PER_USD / TOKENS_PER_MTOK
    return int(exact.to_integral_value(rounding=ROUND_HALF_UP))


class PriceBook:
    """Prices of a workspace's models, resolved once per model and then kept."""

    def __init__(self, models: Mapping[str, ModelSpec]) -> None:
        self._models = models
        self._prices: dict[str, Price | None] = {}

    def price_for(self, model: str) -> Price | None:
        """The price of ``model`` (a workspace model key, or a bare model name), or None."""
        if model not in self._prices:
            self._prices[model] = self._resolve(model)
        return self._prices[model]

    def wire_name(self, model: str) -> str:
        """The name sent to the service for ``model`` (what its encoding is chosen by)."""
        spec = self._spec(model)
        return spec.name or model if spec is not None else model

    def _resolve(self, model: str) -> Price | None:
        spec = self._spec(model)
        if spec is not None:
            override = workspace_price(spec)
            if override is not None:
                return override
        return database_price(self.wire_name(model))

    def _spec(self, model: str) -> ModelSpec | None:
        """The workspace's entry for a model key, else for the wire name a request carries."""
        spec = self._models.get(model)
        if spec is None:
            spec = next((s for s in self._models.values() if s.name == model), None)
        return spec


def workspace_price(spec: ModelSpec) -> Price | None:
    """The price a workspace sets for a model, if it sets both input and output."""
    if spec.input_per_mtok is None or spec.output_per_mtok is None:
        return None
    cached = spec.cached_input_per_mtok
    return Price(
        _decimal(spec.input_per_mtok),
        _decimal(spec.output_per_mtok),
        None if cached is None else _decimal(cached),
        "workspace",
    )


@functools.lru_cache(maxsize=256)
def database_price(model: str) -> Price | None:
    """A model's price from the genai-prices snapshot (OpenAI first, then any provider); the
    snapshot is fixed for the process, so each model is looked up once."""
    provider, _, bare = model.partition("/")
    found = (
        _lookup(model, "openai")
        or _lookup(model, None)
        or (_lookup(bare, provider) if bare else None)
    )
    if found is None:
        return None
    prices, provider, model_id, version = found
    return Price(
        _decimal(prices.input_mtok or 0),
        _decimal(prices.output_mtok or 0),
        None if prices.cache_read_mtok is None else _decimal(prices.cache_read_mtok),
        f"genai-prices {version} ({provider}/{model_id})",
    )


def _lookup(model: str, provider: str | None) -> tuple[Any, str, str, str] | None:
    import genai_prices  # lazily: importing it and the first lookup cost ~0.15 s

    try:
        calculation = genai_prices.calc_price(
            genai_prices.Usage(input_tokens=0, output_tokens=0),
            model_ref=model,
            provider_id=provider,
        )
    except LookupError:
        return None
    prices = calculation.model_price
    # Tiered prices (per context length) price by their base tier: agentdesk's calls are short.
    flat = _FlatPrices(
        _base(prices.input_mtok), _base(prices.output_mtok), _base(prices.cache_read_mtok)
    )
    return flat, calculation.provider.id, calculation.model.id, genai_prices.__version__


@dataclass(frozen=True, slots=True)
class _FlatPrices:
    input_mtok: Decimal | None
    output_mtok: Decimal | None
    cache_read_mtok: Decimal | None


def _base(value: Any) -> Decimal | None:
    if value is None:
        return None
    if isinstance(value, Decimal):
        return value
    base = getattr(value, "base", None)
    return _decimal(base) if base is not None else None


def _decimal(value: float | int | Decimal) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value))


def short_usd(usd: float) -> str:
    """Dollars for a narrow column (eight characters below $1,000), a fraction of a cent
    still showing two digits: $0, $3.2e-06, $0.00041, $0.0123, $12.34."""
    if usd == 0:
        return "$0"
    if usd < 0.00001:
        return f"${usd:.1e}"
    if usd < 0.01:
        return f"${usd:.5f}"
    return f"${usd:.4f}" if usd < 1 else f"${usd:,.2f}"

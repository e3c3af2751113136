"""Prices: the same money genai-prices computes, workspace overrides first, exact pico-dollars."""

from __future__ import annotations

import socket
import threading
from decimal import Decimal
from typing import Any

import genai_prices
import pytest
from hypothesis import given
from hypothesis import strategies as st

from agentdesk.spec.models import ModelSpec
from agentdesk.tokens.prices import (
    PICO_PER_USD,
    Price,
    PriceBook,
    database_price,
    pico,
    short_usd,
    usd,
)

USAGES = [
    # (prompt tokens, of which cached, completion tokens)
    (1, 0, 0),
    (0, 0, 1),
    (1_000, 0, 100),
    (123_457, 0, 9_876),
    (5_000, 4_000, 250),
    (2_048, 2_048, 7),
]


def genai_total(model: str, prompt: int, cached: int, completion: int) -> Decimal:
    usage = genai_prices.Usage(
        input_tokens=prompt, cache_read_tokens=cached, output_tokens=completion
    )
    return genai_prices.calc_price(usage, model_ref=model, provider_id="openai").total_price


@pytest.mark.parametrize("model", ["gpt-4o", "gpt-4o-mini", "gpt-4.1-mini", "gpt-4"])
@pytest.mark.parametrize(("prompt", "cached", "completion"), USAGES)
def test_costs_match_genai_prices_own_calculation(
    model: str, prompt: int, cached: int, completion: int
) -> None:
    price = database_price(model)
    assert price is not None and price.source.startswith("genai-prices ")
    cost = price.cost_pico(prompt, completion, cached)
    assert Decimal(cost) / PICO_PER_USD == genai_total(model, prompt, cached, completion)


def test_published_openai_prices_per_million_tokens() -> None:
    """A spot check that the lookup reads the right fields (input, cached input, output)."""
    price = database_price("gpt-4o")
    assert price is not None
    assert (price.input_per_mtok, price.cached_input_per_mtok, price.output_per_mtok) == (
        Decimal("2.5"),
        Decimal("1.25"),
        Decimal("10"),
    )
    assert price.source == f"genai-prices {genai_prices.__version__} (openai/gpt-4o)"


@pytest.mark.parametrize("model", ["gpt-4o-2024-08-06", "openai/gpt-4o"])
def test_dated_and_provider_qualified_names_find_the_model(model: str) -> None:
    price = database_price(model)
    assert price is not None and price.source.endswith("(openai/gpt-4o)")


@pytest.mark.parametrize("model", ["llama-3-70b-local", "sim-fast", "ft:gpt-4o-mini:acme::x", ""])
def test_unknown_models_have_no_price(model: str) -> None:
    assert database_price(model) is None
    assert PriceBook({}).price_for(model) is None


def spec(**fields: Any) -> ModelSpec:
    return ModelSpec(service="llm", **fields)


def test_a_workspace_price_wins_over_the_database() -> None:
    book = PriceBook({"gpt-4o": spec(input_per_mtok=1, output_per_mtok=2)})
    price = book.price_for("gpt-4o")
    assert price == Price(Decimal("1"), Decimal("2"), None, "workspace")
    assert price.cost_pico(1_000, 10, cached=500) == 1_000 * 1_000_000 + 10 * 2_000_000


def test_a_workspace_price_applies_to_the_wire_name_too() -> None:
    book = PriceBook({"fast": spec(name="gpt-4o-mini", input_per_mtok=0.5, output_per_mtok=1.5)})
    for model in ("fast", "gpt-4o-mini"):
        price = book.price_for(model)
        assert price is not None and price.source == "workspace"


def test_a_workspace_model_without_prices_is_priced_by_its_wire_name() -> None:
    book = PriceBook({"fast": spec(name="gpt-4o-mini"), "local": spec(name="llama-local")})
    fast = book.price_for("fast")
    assert fast is not None and fast.source.endswith("(openai/gpt-4o-mini)")
    assert book.price_for("local") is None


def test_a_simulated_model_priced_by_the_workspace() -> None:
    book = PriceBook({"sim-small": spec(input_per_mtok=0.1, cached_input_per_mtok=0.025,
                                         output_per_mtok=0.4)})  # fmt: skip
    price = book.price_for("sim-small")
    assert price is not None
    assert (price.input_pico, price.cached_input_pico, price.output_pico) == (
        100_000,
        25_000,
        400_000,
    )


def test_without_a_cached_price_cached_tokens_cost_the_input_price() -> None:
    price = Price(Decimal("3"), Decimal("6"), None, "workspace")
    assert price.cost_pico(100, 0, cached=60) == price.cost_pico(100, 0)


def test_cached_tokens_are_clamped_to_the_prompt() -> None:
    price = Price(Decimal("3"), Decimal("6"), Decimal("1"), "workspace")
    assert price.cost_pico(10, 0, cached=50) == price.cost_pico(10, 0, cached=10)
    assert price.cost_pico(10, 0, cached=-5) == price.cost_pico(10, 0)


def test_float_noise_in_a_price_rounds_to_the_nearest_pico_dollar() -> None:
    assert Price(Decimal("0.13999999999999999"), Decimal(0), None, "x").input_pico == 140_000


usage = st.tuples(st.integers(0, 200_000), st.integers(0, 200_000), st.integers(0, 50_000)).map(
    lambda u: (u[0], min(u[1], u[0]), u[2])
)


@given(st.lists(usage, max_size=200))
def test_many_small_costs_add_up_to_the_cost_of_the_sum(usages: list[tuple[int, int, int]]) -> None:
    price = Price(Decimal("0.15"), Decimal("0.6"), Decimal("0.075"), "x")
    each = sum(price.cost_pico(p, o, cached=c) for p, c, o in usages)
    prompt, cached, completion = (sum(column) for column in zip(*usages, strict=True)) if usages \
        else (0, 0, 0)  # fmt: skip
    assert each == price.cost_pico(prompt, completion, cached=cached)


def test_dollars_and_pico_dollars_convert_exactly() -> None:
    assert pico("0.1") == 10**11
    assert pico(0.1) == 10**11
    assert pico(Decimal("12.345678901234")) == 12_345_678_901_234
    assert pico("0.0000000000019") == 1  # rounded down: never more than the budget given
    assert usd(pico("2.5")) == 2.5


def test_the_database_is_read_from_the_installed_snapshot_not_the_network(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    connects: list[Any] = []

    def refuse(self: socket.socket, address: Any) -> None:
        connects.append(address)
        raise OSError("network blocked in tests")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    threads = threading.active_count()
    assert database_price("gpt-4.1-nano") is not None
    assert database_price("o4-mini") is not None
    assert connects == [] and threading.active_count() == threads


def test_short_usd_keeps_two_digits_of_a_fraction_of_a_cent() -> None:
    assert [short_usd(v) for v in (0, 3.2e-6, 0.000412, 0.0123, 0.5, 12.345)] == [
        "$0",
        "$3.2e-06",
        "$0.00041",
        "$0.0123",
        "$0.5000",
        "$12.35",
    ]
    assert all(len(short_usd(v)) <= 8 for v in (1e-9, 9.99e-6, 0.00999, 0.99999, 999.99))

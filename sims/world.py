"""The simulated world of a run batch: one instance of each sim, their clock and their faults.

All sessions of a batch talk to the same world, so state is shared the way it would be with
real services (a refund made by one run is visible to the next), and so are rate limits. The
world owns the sim clock (the running loop's time minus an epoch: simulated seconds on the
virtual clock, real seconds when served), the active scenario, the faults injected live by
the TUI's Chaos screen, and one token bucket per service. Each service is reached through a
``Gateway`` ASGI app; several services may share one sim kind (two LLM providers, say), each
with its own faults and rate limit.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from pydantic import TypeAdapter

from sims.asgi import ASGIApp
from sims.crm import CRMSim
from sims.faults import TokenBucket
from sims.gateway import Gateway, Sim
from sims.knowledge import KnowledgeSim
from sims.llm import LLMSim
from sims.payments import PaymentsSim
from sims.profiles import (
    Fault,
    LatencySpec,
    Scenario,
    ServiceProfile,
    SimsConfig,
    validate_scenario,
    validate_sims,
)

SIM_KINDS = ("llm", "crm", "payments", "knowledge")
_FAULT = TypeAdapter[Fault](Fault)


class SimWorld:
    """Every sim of a run batch, their shared clock, scenario and live faults."""

    def __init__(
        self,
        seed: int,
        scenario: Scenario | Mapping[str, Any] | None = None,
        config: Mapping[str, Any] | SimsConfig | None = None,
        epoch: float | None = None,
    ) -> None:
        self.seed = seed
        self.config = config if isinstance(config, SimsConfig) else validate_sims(config)
        self.scenario = _scenario(scenario)
        self._epoch = epoch
        self._sims: dict[str, Sim] = {}
        self._gateways: dict[str, Gateway] = {}
        self._kinds: dict[str, str] = {}
        self._injected: dict[str, list[Fault]] = {}
        self._profiles: dict[str, ServiceProfile] = {}
        self._buckets: dict[str, TokenBucket | None] = {}

    # --- what the engine and the server use ---------------------------------------------------

    def app(self, service: str, kind: str | None = None) -> ASGIApp:
        """The ASGI app of a service; ``kind`` (default: the service name) picks the sim."""
        if service not in self._gateways:
            kind = kind or service
            self._kinds[service] = kind
            self._gateways[service] = Gateway(self, service, self.sim(kind))
        return self._gateways[service]

    def sim(self, kind: str) -> Any:
        """The single instance of a sim kind (its state is inspectable in tests)."""
        if kind not in self._sims:
            self._sims[kind] = self._build(kind)
        return self._sims[kind]

    def clock(self) -> float:
        """Sim-clock seconds: the running loop's time since the epoch (set on first use)."""
        now = asyncio.get_running_loop().time()
        if self._epoch is None:
            self._epoch = now
        return now - self._epoch

    # --- what the Chaos screen uses -----------------------------------------------------------

    def set_scenario(self, scenario: Scenario | Mapping[str, Any]) -> None:
        """Switch scenario live; injected faults stay."""
        self.scenario = _scenario(scenario)
        self._changed()

    def inject(self, service: str, fault: Fault | Mapping[str, Any]) -> None:
        """Add a fault to a service, tried before the scenario's own faults."""
        parsed = _FAULT.validate_python(fault) if isinstance(fault, Mapping) else fault
        self._injected.setdefault(service, []).insert(0, parsed)
        self._changed()

    def clear(self, service: str | None = None) -> None:
        """Remove the faults injected into a service (all services when None)."""
        if service is None:
            self._injected.clear()
        else:
            self._injected.pop(service, None)
        self._changed()

    def profile(self, service: str) -> ServiceProfile:
        """What the service does now: baseline latency, scenario and injected faults."""
        profile = self._profiles.get(service)
        if profile is None:
            profile = self._profiles[service] = self._effective(service)
        return profile

    def bucket(self, service: str) -> TokenBucket | None:
        """The service's token bucket, when its profile has a rate limit."""
        if service not in self._buckets:
            limit = self.profile(service).rate_limit
            bucket = TokenBucket(limit.rate, limit.burst, self.clock()) if limit else None
            self._buckets[service] = bucket
        return self._buckets[service]

    # --- inside -------------------------------------------------------------------------------

    def _build(self, kind: str) -> Sim:
        if kind == "llm":
            return LLMSim(self.config.llm)
        if kind == "crm":
            return CRMSim()
        if kind == "payments":
            return PaymentsSim()
        if kind == "knowledge":
            return KnowledgeSim()
        raise ValueError(f"unknown sim kind {kind!r}; known: {', '.join(SIM_KINDS)}")

    def _effective(self, service: str) -> ServiceProfile:
        base = self.scenario.services.get(service, ServiceProfile())
        return ServiceProfile(
            latency=base.latency or self._baseline_latency(self._kinds.get(service, service)),
            faults=[*self._injected.get(service, []), *base.faults],
            rate_limit=base.rate_limit,
        )

    def _baseline_latency(self, kind: str) -> LatencySpec | None:
        if kind == "llm":
            return self.config.llm.ttft
        tool = getattr(self.config, kind, None)
        return tool.latency if tool is not None else None

    def _changed(self) -> None:
        old = {name: self.profile(name).rate_limit for name in self._buckets}
        self._profiles.clear()
        for name, limit in old.items():
            if self.profile(name).rate_limit != limit:
                del self._buckets[name]


def _scenario(scenario: Scenario | Mapping[str, Any] | None) -> Scenario:
    if isinstance(scenario, Scenario):
        return scenario
    return validate_scenario(scenario or {})

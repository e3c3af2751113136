"""Simulated services that misbehave on purpose: an OpenAI-compatible LLM, a CRM, payments
and knowledge search, as plain ASGI apps behind a seeded fault engine.

``SimWorld`` holds one instance of each sim for a run batch; ``world.app(name)`` is the ASGI
app the engine reaches through httpx's ASGI transport, and ``sims.serve.serve(world)`` puts
the same apps on loopback. Headless: nothing here imports the UI or the store.
"""

from sims.asgi import ConnectionReset
from sims.profiles import Scenario, ServiceProfile, SimsConfig, validate_scenario, validate_sims
from sims.world import SimWorld

__all__ = [
    "ConnectionReset",
    "Scenario",
    "ServiceProfile",
    "SimWorld",
    "SimsConfig",
    "validate_scenario",
    "validate_sims",
]

"""Resilience and least-privilege policies: small objects that decide, never act.

``retry`` (classify a failure, Retry-After, back-off with injected jitter), ``breaker``
(circuit breakers on an injected clock) and ``allowlist`` (what a tool step may call) return
decisions; the runner performs them and publishes the events.
"""

"""Read models for the live views: bounded folds over events, without Textual or Rich.

They complement ``agentdesk.projections`` (whose ``RunSummary`` and ``LatencyDigest`` they
reuse) with what only a live view needs: the last few hundred runs and each one's trace, the
breaker board with time to the next probe, budget meters, and recent-latency sparklines —
each bounded, so the panel's memory stays flat however long it runs.
"""

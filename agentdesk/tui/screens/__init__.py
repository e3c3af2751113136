"""One screen per module: Live, Chaos, Help and the scenario picker."""

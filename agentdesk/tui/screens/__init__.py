"""One screen per module: Live, Chaos, Artifacts, Help, and the small modal ones (scenario
picker, confirmation, label input)."""

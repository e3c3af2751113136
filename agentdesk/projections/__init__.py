"""Read models: pure folds over events, shared by the CLI, the TUI, the store and replay.

Each projection takes events one at a time (``apply``) and exposes state; none of them reads
a clock, a database or a widget, so every consumer that folds the same events agrees.
"""

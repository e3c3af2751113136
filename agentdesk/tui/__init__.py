"""The Textual control panel: app factory, screens, widgets, and the bridge that feeds them.

``models/`` (headless read models folded from events) and ``safe`` (sanitising untrusted text)
import neither Textual nor Rich; everything else here is the UI. Build the app with
``agentdesk.tui.app.make_app`` — the CLI, the tests, the screenshots and the benchmark all do.

Importing this package sets Textual's frame rate (``TEXTUAL_FPS``, unless the environment sets
it) before Textual loads. Textual paints on a grid of frame slots, and a paint that runs past
its slot waits out the next one too, so at the default 60 a key pressed while events stream
waited 35–50 ms for its frame; at 120 it waits at most ~17 ms. Painting still happens only when
something changed. Import ``agentdesk.tui`` before ``textual`` for the setting to take effect.
"""

import os

FPS = 120
"""Textual's frame slots per second; ``TEXTUAL_FPS`` in the environment overrides it."""

os.environ.setdefault("TEXTUAL_FPS", str(FPS))

"""The Textual control panel: app factory, screens, widgets, and the bridge that feeds them.

``models/`` (headless read models folded from events) and ``safe`` (sanitising untrusted text)
import neither Textual nor Rich; everything else here is the UI. Build the app with
``agentdesk.tui.app.make_app`` — the CLI, the tests, the screenshots and the benchmark all do.
"""

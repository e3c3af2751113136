"""The one bridge between the simulation thread and the UI: batches by time, one post a frame.

A worker thread waits on the control's ``EventBridge``, drains whatever arrived, folds it into
the ``LiveModel`` (off the UI thread, so key presses are not queued behind folds), and posts at
most one ``Updated`` message per frame. ``Updated`` declares ``can_replace``: if the UI is busy,
an older pending frame is replaced by the newer one instead of piling up. The UI thread then
takes one ``LiveView`` snapshot of what is on screen.

Hot reload's threads (``hot_reload.HotReload``) reach the UI the same way, as ``Reloaded``
messages; a pending "a new snapshot is ready" is replaced by the next one.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from textual.message import Message

from agentdesk.control import EventBridge
from agentdesk.tui.hot_reload import Changed, News
from agentdesk.tui.models.live import LiveModel

FPS = 20
FRAME = 1.0 / FPS


class Updated(Message):
    """The live model changed; take a new view."""

    def __init__(self, version: int) -> None:
        super().__init__()
        self.version = version

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, Updated)


class Reloaded(Message):
    """Hot reload has news: an edit judged, a release to swap to, a snapshot, a notice."""

    def __init__(self, news: News) -> None:
        super().__init__()
        self.news = news

    def can_replace(self, message: Message) -> bool:
        return (
            isinstance(message, Reloaded)
            and isinstance(message.news, Changed)
            and isinstance(self.news, Changed)
        )


class LiveBridge:
    """Drains ``source`` into ``model`` on a thread; posts at most ``FPS`` times a second."""

    def __init__(
        self, source: EventBridge, model: LiveModel, post: Callable[[Message], object]
    ) -> None:
        self.source = source
        self.model = model
        self.post = post
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.frames = 0

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="agentdesk-bridge", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2.0)

    def pump(self) -> bool:
        """Drain and fold once, in the calling thread; True when anything arrived."""
        batch = self.source.drain()
        if not (batch.events or batch.notes or batch.dropped):
            return False
        self.model.apply_batch(batch.events, batch.notes, batch.dropped)
        return True

    def _run(self) -> None:
        while not self._stop.is_set():
            frame_started = time.monotonic()
            if self.source.wait(FRAME) and self.pump():
                self.frames += 1
                self.post(Updated(self.model.version))
            # At most one post a frame: wait out the rest of it (events keep queueing).
            self._stop.wait(max(0.0, FRAME - (time.monotonic() - frame_started)))

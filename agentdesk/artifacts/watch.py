"""Hot reload: watchfiles on the workspace's folders, every change applied to a session.

The whole workspace folder is watched, recursively — never single files — so every way an
editor saves is seen: in place (``sed -i``, most editors), write-a-temporary-then-rename
(VS Code, JetBrains, vim with ``backupcopy=no``), delete-and-recreate. Events are only a hint
that something changed: after each batch the watcher reads what is on disk *now* for each
artifact path it touched (``files.artifact_path`` drops editors' temporary files), and the
session judges that. A half-written file is judged as it is (usually rejected) and judged
again when the editor's next write lands.

Latency: watchfiles waits ``step`` milliseconds after a change for more before yielding a
batch (50 by default, up to ``debounce`` while changes keep coming). agentdesk uses 10 ms
(LIMITS.md measured p95 ≈ 20 ms for the notification at 0.5 % idle CPU); ``bench/hot_reload.py``
measures the whole path beside watchfiles' own.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

import watchfiles

from agentdesk.artifacts.files import artifact_path
from agentdesk.artifacts.session import ArtifactSession, Outcome

log = logging.getLogger(__name__)

STEP_MS = 10
DEBOUNCE_MS = 400
ErrorListener = Callable[[BaseException], None]


class Watcher:
    """Watches one session's workspace on a thread of its own (``start``/``stop``), or on
    the caller's thread (``run``, until ``stop`` is called from elsewhere)."""

    def __init__(
        self,
        session: ArtifactSession,
        *,
        step_ms: int = STEP_MS,
        debounce_ms: int = DEBOUNCE_MS,
        on_error: ErrorListener | None = None,
    ) -> None:
        self.session = session
        self.step_ms = step_ms
        self.debounce_ms = debounce_ms
        self.on_error = on_error
        self.ready = threading.Event()
        """Set once the watch is in place: writes after this are seen."""
        self.delivered_at: float | None = None
        """When watchfiles handed over the batch being judged now (``time.monotonic()``):
        from here on the time is agentdesk's (read by ``bench/hot_reload.py``)."""
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name="agentdesk-watch", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)

    def run(self) -> None:
        root = self.session.root
        changes = watchfiles.watch(
            root,
            watch_filter=self._wanted,
            step=self.step_ms,
            debounce=self.debounce_ms,
            stop_event=self._stop,
            rust_timeout=200,
            yield_on_timeout=True,
            raise_interrupt=False,
        )
        for batch in changes:
            self.delivered_at = time.monotonic()
            self.ready.set()
            paths = sorted({p for _, raw in batch if (p := artifact_path(root, raw)) is not None})
            if paths:
                self.apply(paths)

    def apply(self, paths: list[str]) -> list[Outcome]:
        """Judge the paths; an error (a full disk under the store) is reported, never fatal."""
        try:
            return self.session.apply(paths)
        except Exception as exc:  # the watcher must outlive any one edit
            log.exception("hot reload failed for %s", paths)
            if self.on_error is not None:
                self.on_error(exc)
            return []

    def _wanted(self, _change: watchfiles.Change, raw: str) -> bool:
        return artifact_path(self.session.root, Path(raw)) is not None

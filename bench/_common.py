"""What every benchmark does before it imports agentdesk, and the memory reading they share.

Importing this module puts this checkout first on ``sys.path`` and, when the machine cannot
download tiktoken's encodings, points ``TIKTOKEN_CACHE_DIR`` at the copy in
``../shared/tiktoken`` (as ``.ci/run`` does). Import it before anything from agentdesk.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
"""The checkout the benchmarks measure."""

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
_SHARED_TIKTOKEN = ROOT.parent / "shared" / "tiktoken"
if "TIKTOKEN_CACHE_DIR" not in os.environ and _SHARED_TIKTOKEN.is_dir():
    os.environ["TIKTOKEN_CACHE_DIR"] = str(_SHARED_TIKTOKEN)


def rss_mb() -> float:
    """This process's resident memory now, in MB (Linux; NaN where it cannot be read)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")

"""heap.settle: what a long run does to the collector, once per process (in a fresh process,
so the suite's own collector is not the one measured)."""

from __future__ import annotations

import subprocess
import sys

CHILD = r"""
import gc
from agentdesk import heap

heap.settle()
frozen = gc.get_freeze_count()
assert frozen > 0 and gc.get_threshold()[0] == heap.YOUNG_THRESHOLD

class Node:
    pass

for _ in range(1000):  # garbage in cycles, made after the first settle
    a, b = Node(), Node()
    a.other, b.other = b, a
del a, b
heap.settle()  # a second call must not freeze that garbage for good
assert gc.get_freeze_count() == frozen
print(gc.collect())
"""


def test_settle_freezes_what_is_loaded_once_and_later_garbage_is_still_collected() -> None:
    done = subprocess.run(
        [sys.executable, "-c", CHILD], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert int(done.stdout) >= 2000  # both objects of every cycle

"""`takeoff serve`'s collector policy (app.freeze_startup_heap): the startup heap frozen, full passes rarer."""
from __future__ import annotations

import subprocess
import sys

SCRIPT = """
import gc
from takeoff.app import FULL_COLLECTION_EVERY, freeze_startup_heap
before = gc.get_threshold()
marker = object()
freeze_startup_heap(marker)
after = gc.get_threshold()
assert gc.get_freeze_count() > 0, "the startup heap is frozen"
assert after == (before[0], before[1], FULL_COLLECTION_EVERY) and FULL_COLLECTION_EVERY > before[2], (before, after)
print("ok")
"""


def test_serve_freezes_the_startup_heap_and_makes_full_collections_rarer() -> None:
    """In a fresh interpreter, as a server process is (the test process builds many apps and must not freeze)."""
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr[-2000:]

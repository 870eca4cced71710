"""One process builds text search blocks at a time (text_index.sole_indexer): while another process holds the
database's indexer lock, this one's compactor round skips at once and leaves the queue to it; threads of one
process wait for each other instead of skipping."""
from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from sqlalchemy import text

from takeoff.core.db import transaction
from takeoff.telemetry import text_index

HOLDER = """
import sys
from takeoff.core.db import make_engine
from takeoff.telemetry import text_index
engine = make_engine(sys.argv[1])
with text_index.sole_indexer(engine) as mine:
    print("held" if mine else "refused", flush=True)
    sys.stdin.readline()
"""


def _queue_one(factory) -> None:  # type: ignore[no-untyped-def]
    with transaction(factory) as s:
        s.execute(text("INSERT INTO request_text_pending (batch, rows, gen) VALUES (42, 0, 0)"))


def _holder(engine):  # type: ignore[no-untyped-def]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src")}
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, engine.url.render_as_string(hide_password=False)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    return proc


def test_another_process_holding_the_indexer_makes_this_one_skip(engine, factory) -> None:  # type: ignore[no-untyped-def]
    _queue_one(factory)  # a queued batch whose rows are gone: a round drops it from the queue
    proc = _holder(engine)
    try:
        with text_index.sole_indexer(engine) as mine:
            assert mine is False
        assert text_index.index_all(factory) == 0
        with transaction(factory) as s:
            assert s.scalar(text("SELECT count(*) FROM request_text_pending")) == 1, "left to the other process"
    finally:
        proc.communicate("\n", timeout=60)
    with text_index.sole_indexer(engine) as mine:
        assert mine is True, "the lock went with the other process's release"
    text_index.index_all(factory)
    with transaction(factory) as s:
        assert s.scalar(text("SELECT count(*) FROM request_text_pending")) == 0


def test_threads_of_one_process_take_turns_and_never_skip(engine) -> None:  # type: ignore[no-untyped-def]
    inside, results = threading.Event(), []
    release = threading.Event()

    def first() -> None:
        with text_index.sole_indexer(engine) as mine:
            results.append(("first", mine))
            inside.set()
            release.wait(30)

    def second() -> None:
        inside.wait(30)
        with text_index.sole_indexer(engine) as mine:
            results.append(("second", mine))

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    inside.wait(30)
    time.sleep(0.3)  # time for the second thread to reach the lock (a skip would be recorded by now)
    assert results == [("first", True)], "the second thread waits while the first holds it"
    release.set()
    for t in threads:
        t.join(30)
    assert results == [("first", True), ("second", True)]

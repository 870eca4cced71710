"""A client made before os.fork (gunicorn, celery prefork) works in the child: its own sender, queue and guard pool."""
from __future__ import annotations

import json
import os
import threading

import pytest

from takeoff.sdk import Client

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")


def _child(client: Client, report: str) -> int:
    """What runs in the forked child: no thread before its first event, then track, guard and flush there."""
    threads_before = threading.active_count()
    ids = []
    for i in range(5):
        with client.track("uc", unit_id=f"child-{i}") as t:
            t.set_tokens(input=i)
        ids.append(t.request_id)
    answer = client.guard(lambda: "child answer", use_case="uc", fallback="fallback")  # guard pool restarted
    flushed = client.flush(10)
    stats = client.stats()
    client.close(timeout_s=2)
    with open(report, "w") as f:
        json.dump({"threads_before": threads_before, "ids": ids, "answer": answer, "flushed": flushed,
                   "sent": stats["sent"], "duplicates": stats["duplicates"], "dropped": stats["dropped"]}, f)
    return 0


def test_forked_child_sends_its_own_events_and_not_the_parents(fake_server, tmp_path):
    client = Client(fake_server.url, "tok", flush_interval_s=60, backoff_base_s=0.01, backoff_max_s=0.05,
                    guard_timeout_s=5)
    with client.track("uc", unit_id="parent-sent") as sent:
        pass
    assert client.flush(10)                                     # the parent's sender thread is running
    assert client.guard(lambda: "parent answer", use_case="uc") == "parent answer"  # and its guard pool
    assert client.flush(10)
    with client.track("uc", unit_id="parent-queued") as queued:  # queued in the parent when it forks
        pass
    report = str(tmp_path / "child.json")
    pid = os.fork()
    if pid == 0:  # the child: never return into pytest
        code = 1
        try:
            code = _child(client, report)
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    with open(report) as f:
        child = json.load(f)
    assert child["threads_before"] == 1                          # nothing started in the child until it is used
    assert child["answer"] == "child answer"
    assert child["flushed"] and child["sent"] == 6 and child["duplicates"] == 0 and child["dropped"] == {}
    assert set(child["ids"]) <= set(fake_server.events)          # the fake server lives in the parent
    assert queued.request_id not in fake_server.events           # the child did not send the parent's queue
    assert client.flush(10)                                      # the parent still does, once
    assert {sent.request_id, queued.request_id} <= set(fake_server.events)
    assert len(fake_server.events) == 2 + 1 + 6                  # parent: 2 tracked + 1 guard event; child: 6
    assert client.stats()["sent"] == 3 and client.stats()["duplicates"] == 0
    client.close()

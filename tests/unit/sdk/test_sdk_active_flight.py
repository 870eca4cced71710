"""active() under a slow or empty server (issue 15 item 6): an empty answer is cached like any other, concurrent
callers with nothing cached share ONE fetch, and on a hung server no caller waits longer than the timeout once."""
from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from takeoff.sdk import Client

TIMEOUT_S = 0.5
DEFAULT = {"release_id": "local", "model": "local-model"}


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class HungServer:
    """A socket on 127.0.0.1 that accepts connections and never answers."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.accepted = 0
        self.conns: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            self.conns.append(conn)  # held open, never read from or answered

    def close(self) -> None:
        self.sock.close()
        for c in self.conns:
            c.close()


@pytest.fixture
def hung() -> Iterator[HungServer]:
    server = HungServer()
    yield server
    server.close()


def _concurrent(client: Client, n: int, use_case: str = "uc") -> list[tuple[float, object]]:
    """n threads call active() at once; each one's (seconds it took, answer)."""
    barrier = threading.Barrier(n)
    out: list[tuple[float, object]] = [(0.0, None)] * n

    def call(i: int) -> None:
        barrier.wait()
        t0 = time.perf_counter()
        cfg = client.active(use_case, f"user-{i}", default=DEFAULT)
        out[i] = (time.perf_counter() - t0, cfg)

    threads = [threading.Thread(target=call, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return out


def test_hung_server_one_fetch_and_no_caller_waits_past_the_timeout(hung):
    client = Client(hung.url, "secret", timeout_s=TIMEOUT_S, retry_interval_s=60)
    results = _concurrent(client, 8)
    waits = sorted(w for w, _ in results)
    # Before: each thread fetched in turn after the previous one timed out (0.5, 1.0, ... 4.0 s).
    assert waits[-1] < TIMEOUT_S * 1.6, waits
    assert all(cfg.release_id == "local" and cfg.source == "default" for _, cfg in results)
    assert hung.accepted == 1  # one connection: the callers shared one fetch
    t0 = time.perf_counter()
    assert client.active("uc", "u", default=DEFAULT).source == "default"  # the failure is remembered
    assert time.perf_counter() - t0 < 0.1 and hung.accepted == 1
    client.close(timeout_s=0.1)


def test_empty_answer_is_cached_not_retried_as_a_failure(fake_server, make_release):
    fake_server.set_active("uc", [])
    clock = FakeClock()
    client = Client(fake_server.url, "secret", cache_ttl_s=30, retry_interval_s=5, clock=clock)
    cfg = client.active("uc", "u", default=DEFAULT)
    assert (cfg.release_id, cfg.source) == ("local", "default")
    assert client.active("uc", "u") is None  # nothing live and no default
    clock.now = 6  # past the failure retry interval, within the cache TTL: still the cached (empty) answer
    for _ in range(20):
        assert client.active("uc", "u", default=DEFAULT).release_id == "local"
    assert fake_server.active_hits == 1
    fake_server.set_active("uc", [make_release("r1", 100)])
    clock.now = 31  # the TTL passed: asked again, and the new live release is served
    assert client.active("uc", "u").release_id == "r1"
    assert fake_server.active_hits == 2
    client.close(timeout_s=0.1)


def test_slow_empty_server_is_asked_once_by_concurrent_callers(fake_server):
    fake_server.set_active("uc", [])
    fake_server.hang.set()  # every request waits until released
    threading.Timer(0.2, fake_server.release.set).start()
    client = Client(fake_server.url, "secret", timeout_s=2.0)
    results = _concurrent(client, 8)
    assert all(cfg.source == "default" for _, cfg in results)
    assert max(w for w, _ in results) < 1.5
    assert len(fake_server.auth) == 1  # one request reached the server
    assert client.active("uc", "u", default=DEFAULT).source == "default" and len(fake_server.auth) == 1
    client.close(timeout_s=0.1)


def test_a_stale_answer_is_served_at_once_while_one_caller_refreshes(fake_server, make_release, hung):
    fake_server.set_active("uc", [make_release("r1", 100)])
    clock = FakeClock()
    client = Client(fake_server.url, "secret", cache_ttl_s=10, timeout_s=TIMEOUT_S, clock=clock)
    assert client.active("uc", "u").source == "server"
    client.url = hung.url  # the server now hangs
    clock.now = 11
    results = _concurrent(client, 6)
    assert all(cfg.release_id == "r1" for _, cfg in results)
    waits = sorted(w for w, _ in results)
    assert waits[-2] < 0.2 and waits[-1] < TIMEOUT_S * 1.6, waits  # only the refreshing caller waited
    assert sorted(cfg.source for _, cfg in results) == ["stale"] * 6
    assert hung.accepted == 1
    client.close(timeout_s=0.1)

"""Background services are a named registry: the app starts the enabled ones, /metrics reads every one's health,
and the rollup compactor is registered through it like any other service."""
from __future__ import annotations

import re
import threading

import pytest
from fastapi.testclient import TestClient

from takeoff.app import create_app
from takeoff.background_defaults import register_background_services
from takeoff.core import background
from takeoff.core.background import BackgroundService


class Probe:
    """A service that records what the registry did to it."""

    def __init__(self) -> None:
        self.started = threading.Event()
        self.stopped = threading.Event()
        self.health_reads = 0
        self.drained = 0

    def start(self, factory, stop: threading.Event) -> threading.Thread:  # type: ignore[no-untyped-def]
        def run() -> None:
            self.started.set()
            stop.wait()
            self.stopped.set()

        t = threading.Thread(target=run, daemon=True, name="probe")
        t.start()
        return t

    def health(self, session) -> None:  # type: ignore[no-untyped-def]
        self.health_reads += 1

    def drain(self, factory) -> None:  # type: ignore[no-untyped-def]
        self.drained += 1


@pytest.fixture
def registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """A registry holding the defaults only, restored after the test."""
    monkeypatch.setattr(background, "_SERVICES", {})
    register_background_services()


def test_the_compactor_is_a_registered_service(registry, settings, factory) -> None:  # type: ignore[no-untyped-def]
    names = [s.name for s in background.registered()]
    assert names == ["rollup-compactor"]
    compactor = background.registered()[0]
    assert compactor.enabled(settings.model_copy(update={"rollup_compaction": True}))
    assert not compactor.enabled(settings)  # the tests' settings switch it off
    stop = threading.Event()
    running = background.start_all(settings.model_copy(update={"rollup_compaction": True}), factory, stop)
    assert [r.thread.name for r in running] == ["takeoff-rollup-compactor"] and running[0].thread.is_alive()
    stop.set()
    background.join_all(running)
    assert not running[0].thread.is_alive()


def test_app_runs_every_enabled_service_and_metrics_reads_their_health(registry, settings, engine, factory) -> None:  # type: ignore[no-untyped-def]
    on, off = Probe(), Probe()
    background.register(BackgroundService("probe-on", start=on.start, health=on.health, drain=on.drain))
    background.register(BackgroundService("probe-off", start=off.start, enabled=lambda s: False, health=off.health))
    app = create_app(settings, engine=engine, start_worker=False)
    with TestClient(app) as client:
        assert on.started.wait(5) and not off.started.is_set()
        text = client.get("/metrics").text
        assert on.health_reads == 1 and off.health_reads == 1  # health is read whether or not the service runs
        assert re.search(r"^takeoff_rollup_deltas_pending \S+$", text, re.M)  # the compactor's contribution
    assert on.stopped.wait(5)  # the app's shutdown set the stop event and joined the thread
    background.drain_all(factory)  # the demo's call after seeding: every service finishes its pending work
    assert on.drained == 1


def test_a_service_name_is_checked(registry) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match="background service name"):
        background.register(BackgroundService("has space", start=Probe().start))

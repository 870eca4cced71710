"""Importing the SDK pulls in no server code, opens no connection and starts no thread."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap


def test_import_is_light_and_offline():
    code = textwrap.dedent("""
        import socket, sys, threading
        def no_network(*a, **k):
            raise AssertionError("network call at import")
        socket.socket.connect = no_network
        socket.create_connection = no_network
        socket.getaddrinfo = no_network
        import takeoff.sdk
        from takeoff.sdk import Client
        Client("http://127.0.0.1:9", "tok")   # constructing a client is offline too
        import httpx
        Client("http://127.0.0.1:9", "tok", http_transport=httpx.MockTransport(no_network))  # injected: still lazy
        bad = sorted(m for m in sys.modules
                     if m.split(".")[0] in ("fastapi", "sqlalchemy", "starlette", "pydantic", "alembic")
                     or (m.startswith("takeoff.") and not m.startswith("takeoff.sdk")))
        assert not bad, bad
        assert threading.active_count() == 1, threading.enumerate()
        print("ok")
    """)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok"

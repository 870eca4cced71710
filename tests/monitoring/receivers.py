"""Local receivers for delivery tests: a vendor endpoint that checks each payload against the vendor's schema, and an
aiosmtpd server that wants AUTH; shared by the channel tests and the compose topology test."""
from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from jsonschema import Draft202012Validator, FormatChecker

ROUTING_KEY = "R0UT1NGKEY0123456789abcdefABCDEF"  # 32 characters, like a PagerDuty integration key
SMTP_PASSWORD = "smtp-pa55word-never-shown"
HOOK_TOKEN = "T000/B000/XXXXXXXXXXXXXXXXXXXXXXXX"


class VendorReceiver:
    """A local endpoint that answers like the vendor: 400 naming the problem when the JSON breaks its schema."""

    def __init__(self, schema: dict[str, Any], ok_status: int = 200) -> None:
        validator = Draft202012Validator(schema, format_checker=FormatChecker())
        self.docs: list[dict[str, Any]] = []
        self.errors: list[str] = []
        self.paths: list[str] = []
        self.auth: list[str | None] = []
        outer = self

        class H(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("content-length", 0)))
                outer.paths.append(self.path)
                outer.auth.append(self.headers.get("Authorization"))
                try:
                    doc = json.loads(raw)
                    problems = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(doc)]
                except ValueError:
                    doc, problems = {}, ["not JSON"]
                outer.docs.append(doc)
                outer.errors += problems
                self.send_response(400 if problems else ok_status)
                self.send_header("content-type", "application/json")
                self.end_headers()
                self.wfile.write(json.dumps({"errors": problems}).encode())

            def log_message(self, *a: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/services/{HOOK_TOKEN}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def vendor() -> Iterator[Any]:
    made: list[VendorReceiver] = []

    def make(schema: dict[str, Any], ok_status: int = 200) -> VendorReceiver:
        made.append(VendorReceiver(schema, ok_status))
        return made[-1]

    yield make
    for r in made:
        r.close()


class Mailbox:
    """aiosmtpd's handler: keeps each message's envelope and content."""

    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(envelope)
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def smtp_server() -> Iterator[tuple[Mailbox, int]]:
    """A local SMTP server that wants AUTH (user 'takeoff', SMTP_PASSWORD) on a plain connection."""
    box = Mailbox()

    def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
        ok = auth_data.login == b"takeoff" and auth_data.password == SMTP_PASSWORD.encode()
        return AuthResult(success=ok, handled=False)

    port = _free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port, authenticator=authenticate, auth_required=True,
                            auth_require_tls=False)
    controller.start()
    yield box, port
    controller.stop()

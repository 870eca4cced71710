"""A small OpenID provider of our own for the token tests: discovery, a JWKS endpoint and a token endpoint that
answers the ID token the test signed (with the provider's key, or another one to fake a bad signature)."""
from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey

from takeoff.app import create_app
from takeoff.auth import oidc
from takeoff.core.config import Settings

CLIENT_ID = "takeoff-test"
CLIENT_SECRET = "client-secret-never-shown-0123"
KEY = RSAKey.generate_key(2048, parameters={"kid": "k1", "alg": "RS256", "use": "sig"})
OTHER_KEY = RSAKey.generate_key(2048, parameters={"kid": "k1", "alg": "RS256", "use": "sig"})  # same kid


@dataclass
class FakeProvider:
    """The provider's state a test steers: the next ID token and what the token endpoint received."""

    issuer: str
    id_token: str = ""
    token_requests: list[dict[str, list[str]]] = field(default_factory=list)

    def sign(self, nonce: str, key: RSAKey = KEY, **claims: Any) -> str:
        """An ID token for this provider and client (claims override the defaults); stored as the next answer."""
        now = int(time.time())
        payload = {"iss": self.issuer, "aud": CLIENT_ID, "sub": "u-123", "iat": now, "exp": now + 300,
                   "nonce": nonce, "preferred_username": "Dana.Scully", "email": "dana@example.com",
                   "name": "Dana Scully", "groups": ["ai-admins", "staff"], **claims}
        payload = {k: v for k, v in payload.items() if v is not None}
        self.id_token = jwt.encode({"alg": "RS256", "kid": key.kid}, payload, key)
        return self.id_token


@pytest.fixture(scope="module")
def fake_provider() -> Iterator[FakeProvider]:
    """The fake provider on a loopback port for the module's tests."""
    holder: dict[str, FakeProvider] = {}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _json(self, doc: Any) -> None:
            raw = json.dumps(doc).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def do_GET(self) -> None:
            p = holder["p"]
            path = urlsplit(self.path).path
            if path == "/.well-known/openid-configuration":
                self._json({"issuer": p.issuer, "authorization_endpoint": p.issuer + "/authorize",
                            "token_endpoint": p.issuer + "/token", "jwks_uri": p.issuer + "/jwks",
                            "id_token_signing_alg_values_supported": ["RS256"],
                            "token_endpoint_auth_methods_supported": ["client_secret_basic"]})
            elif path == "/jwks":
                self._json({"keys": [KEY.as_dict(private=False)]})
            else:
                self.send_error(404)

        def do_POST(self) -> None:
            p = holder["p"]
            length = int(self.headers.get("Content-Length", "0"))
            p.token_requests.append(parse_qs(self.rfile.read(length).decode()))
            self._json({"access_token": "at-1", "token_type": "Bearer", "expires_in": 300, "id_token": p.id_token})

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    holder["p"] = FakeProvider(f"http://127.0.0.1:{server.server_address[1]}")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield holder["p"]
    server.shutdown()
    server.server_close()


def sso_settings(settings: Settings, issuer: str, **extra: Any) -> Settings:
    """The test settings with single sign-on at `issuer` (validated like the environment would be)."""
    values = {**settings.model_dump(), "oidc_issuer": issuer, "oidc_client_id": CLIENT_ID,
              "oidc_client_secret": CLIENT_SECRET, "oidc_provider_name": "Test IdP", **extra}
    return Settings(**values)


@pytest.fixture
def sso_app(settings: Settings, engine: Any, fake_provider: FakeProvider) -> Any:
    """The app with single sign-on at the fake provider."""
    oidc.forget_cache()
    fake_provider.token_requests.clear()
    return create_app(sso_settings(settings, fake_provider.issuer), engine=engine, start_worker=False)

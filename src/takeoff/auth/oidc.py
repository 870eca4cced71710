"""The OpenID Connect relying party: discovery, the authorization URL with PKCE, the code exchange and ID token
validation (issuer, audience, expiry, nonce, signature), through Authlib and its JOSE library, joserfc.

No database here: `auth/sso.py` keeps the login state and the users. Provider answers are cached per process
(discovery and keys for `CACHE_S`; the key set is fetched again at once when a token names an unknown key id, so a
provider's key rotation needs no restart). Nothing secret is logged: not the client secret, codes or tokens.
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

import httpx
from authlib.integrations.httpx_client import OAuth2Client
from authlib.oauth2.rfc6749.errors import OAuth2Error
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.errors import ExpiredTokenError, InvalidClaimError, InvalidKeyIdError, JoseError, MissingClaimError
from joserfc.jwk import KeySet
from joserfc.jws import JWSRegistry

from takeoff.core.config import Settings

log = logging.getLogger("takeoff.sso")

CALLBACK_PATH = "/auth/oidc/callback"
CACHE_S = 300.0
LEEWAY_S = 60
# Asymmetric algorithms only: an HS256 token would be signed with the client secret, "none" with nothing.
SAFE_ALGS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")


class ProviderUnavailable(Exception):
    """The provider did not answer, or answered something that is not a usable OpenID provider (a 503 page)."""


class LoginRefused(Exception):
    """The provider's answer does not prove who signed in (a 401 page naming the reason)."""


@dataclass(frozen=True)
class Provider:
    """The relying party's configuration at one provider."""

    issuer: str
    client_id: str
    client_secret: str | None
    redirect_uri: str
    scopes: str
    timeout_s: float


def provider_from(settings: Settings, base_url: str) -> Provider:
    """The provider of these settings; the redirect URL hangs off TAKEOFF_PUBLIC_URL, else the request's base URL."""
    assert settings.oidc_issuer and settings.oidc_client_id, "SSO is not configured"
    secret = settings.oidc_client_secret.get_secret_value() if settings.oidc_client_secret else None
    root = (settings.public_url or base_url).rstrip("/")
    return Provider(settings.oidc_issuer, settings.oidc_client_id, secret or None, root + CALLBACK_PATH,
                    settings.oidc_scopes, settings.oidc_timeout_s)


_lock = threading.Lock()
_metadata: dict[str, tuple[float, dict[str, Any]]] = {}
_keys: dict[str, tuple[float, dict[str, Any]]] = {}


def forget_cache() -> None:
    """Drop cached discovery documents and key sets (tests; an operator never needs it)."""
    with _lock:
        _metadata.clear()
        _keys.clear()


def _get_json(url: str, timeout_s: float, what: str) -> dict[str, Any]:
    try:
        resp = httpx.get(url, timeout=timeout_s, follow_redirects=False, headers={"Accept": "application/json"})
    except httpx.HTTPError as exc:
        raise ProviderUnavailable(f"the identity provider's {what} at {url} cannot be reached "
                                  f"({type(exc).__name__})") from None
    if resp.status_code != 200:
        raise ProviderUnavailable(f"the identity provider's {what} at {url} answered HTTP {resp.status_code}")
    try:
        doc = resp.json()
    except ValueError:
        raise ProviderUnavailable(f"the identity provider's {what} at {url} is not JSON") from None
    if not isinstance(doc, dict):
        raise ProviderUnavailable(f"the identity provider's {what} at {url} is not a JSON object")
    return doc


def discover(p: Provider) -> dict[str, Any]:
    """The provider's discovery document (cached), checked to name this issuer and the endpoints the flow needs."""
    now = time.monotonic()
    with _lock:
        hit = _metadata.get(p.issuer)
    if hit and now - hit[0] < CACHE_S:
        return hit[1]
    doc = _get_json(p.issuer + "/.well-known/openid-configuration", p.timeout_s, "discovery document")
    if doc.get("issuer") != p.issuer:
        raise ProviderUnavailable(f"the discovery document names issuer {doc.get('issuer')!r}, not {p.issuer!r} "
                                  "(TAKEOFF_OIDC_ISSUER must be the provider's exact issuer)")
    missing = [k for k in ("authorization_endpoint", "token_endpoint", "jwks_uri") if not isinstance(doc.get(k), str)]
    if missing:
        raise ProviderUnavailable(f"the discovery document lacks {', '.join(missing)}")
    with _lock:
        _metadata[p.issuer] = (now, doc)
    return doc


def _key_set(p: Provider, metadata: dict[str, Any], force: bool = False) -> KeySet:
    now = time.monotonic()
    uri = str(metadata["jwks_uri"])
    with _lock:
        hit = _keys.get(uri)
    if hit and not force and now - hit[0] < CACHE_S:
        doc = hit[1]
    else:
        doc = _get_json(uri, p.timeout_s, "key set (jwks_uri)")
        with _lock:
            _keys[uri] = (now, doc)
    try:
        return KeySet.import_key_set(doc)  # type: ignore[arg-type]
    except (JoseError, ValueError, TypeError, KeyError):
        raise ProviderUnavailable(f"the identity provider's key set at {uri} is not a valid JWK set") from None


def _client(p: Provider, metadata: dict[str, Any]) -> OAuth2Client:
    methods = metadata.get("token_endpoint_auth_methods_supported") or ["client_secret_basic"]
    if p.client_secret is None:
        auth_method = "none"
    elif "client_secret_basic" in methods or "client_secret_post" not in methods:
        auth_method = "client_secret_basic"
    else:
        auth_method = "client_secret_post"
    return OAuth2Client(client_id=p.client_id, client_secret=p.client_secret, scope=p.scopes,
                        redirect_uri=p.redirect_uri, code_challenge_method="S256",
                        token_endpoint_auth_method=auth_method, timeout=p.timeout_s)


def authorization_url(p: Provider, state: str, nonce: str, code_verifier: str) -> str:
    """Where to send the browser: the provider's authorization endpoint with state, nonce and the S256 challenge."""
    metadata = discover(p)
    with _client(p, metadata) as client:
        url, _ = client.create_authorization_url(metadata["authorization_endpoint"], state=state, nonce=nonce,
                                                 code_verifier=code_verifier)
    return str(url)


def exchange_code(p: Provider, code: str, code_verifier: str) -> dict[str, Any]:
    """The provider's token response for an authorization code (with the PKCE verifier)."""
    metadata = discover(p)
    with _client(p, metadata) as client:
        try:
            token = client.fetch_token(metadata["token_endpoint"], grant_type="authorization_code", code=code,
                                       code_verifier=code_verifier, redirect_uri=p.redirect_uri)
        except OAuth2Error as exc:
            raise LoginRefused(f"the identity provider refused the sign-in code ({exc.error})") from None
        except httpx.HTTPError as exc:
            raise ProviderUnavailable(f"the identity provider's token endpoint cannot be reached "
                                      f"({type(exc).__name__})") from None
        except ValueError:
            raise ProviderUnavailable("the identity provider's token endpoint did not answer JSON") from None
    if not isinstance(token.get("id_token"), str):
        raise LoginRefused("the identity provider's answer has no ID token (is the 'openid' scope allowed?)")
    return dict(token)


def validate_id_token(p: Provider, id_token: str, nonce: str, access_token: str | None = None,
                      now: int | None = None) -> dict[str, Any]:
    """The ID token's claims once its signature (provider keys), issuer, audience, expiry and nonce check out."""
    metadata = discover(p)
    offered = metadata.get("id_token_signing_alg_values_supported") or ["RS256"]
    algs = [a for a in offered if a in SAFE_ALGS] or ["RS256"]
    registry = JWSRegistry(algorithms=algs)
    try:
        try:
            token = jwt.decode(id_token, _key_set(p, metadata), registry=registry)
        except InvalidKeyIdError:  # a key the cached set lacks: the provider may have rotated its keys
            token = jwt.decode(id_token, _key_set(p, metadata, force=True), registry=registry)
        options: dict[str, Any] = {"iss": {"essential": True, "value": p.issuer},
                                   "aud": {"essential": True, "value": p.client_id},
                                   "exp": {"essential": True}, "sub": {"essential": True}}
        params: dict[str, Any] = {"nonce": nonce, "client_id": p.client_id}
        if access_token:
            params["access_token"] = access_token
        claims = CodeIDToken(token.claims, token.header, options, params)
        claims.validate(now=now, leeway=LEEWAY_S)
    except ExpiredTokenError:
        raise LoginRefused("the ID token has expired") from None
    except (InvalidClaimError, MissingClaimError) as exc:
        claim = getattr(exc, "claim", "") or str(exc)
        what = {"iss": "was issued by another provider", "aud": "was issued to another client (audience)",
                "nonce": "does not answer this sign-in (nonce)", "sub": "names no subject",
                "exp": "has no expiry", "azp": "was issued to another client (azp)"}.get(claim, f"has a bad '{claim}'")
        raise LoginRefused(f"the ID token {what}") from None
    except InvalidKeyIdError:
        raise LoginRefused("the ID token is signed with a key the provider does not publish") from None
    except JoseError as exc:
        log.info("ID token refused: %s", type(exc).__name__)
        raise LoginRefused(f"the ID token's signature does not verify ({exc.error})") from None
    except (ValueError, TypeError, KeyError):
        raise LoginRefused("the ID token is not a valid signed JWT") from None
    return dict(claims)

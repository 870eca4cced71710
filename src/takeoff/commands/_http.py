"""The HTTP side of client commands: TAKEOFF_URL + TAKEOFF_TOKEN, one-line errors, exit codes."""
from __future__ import annotations

import os
from typing import Any, NoReturn

import httpx
import typer


def fail(message: str, code: int = 2) -> NoReturn:
    """One line on stderr, then exit (2 input/usage, 1 a gate or check failed)."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def client(timeout: float = 60.0) -> httpx.Client:
    """An HTTP client for the server named by TAKEOFF_URL, authenticated by TAKEOFF_TOKEN."""
    url = os.environ.get("TAKEOFF_URL", "").rstrip("/")
    token = os.environ.get("TAKEOFF_TOKEN", "")
    if not url:
        fail("TAKEOFF_URL is not set (for example http://127.0.0.1:8080)")
    if not token:
        fail("TAKEOFF_TOKEN is not set (create one with `takeoff token create` or on the Tokens page)")
    return httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=timeout)


def call(method: str, path: str, **kwargs: Any) -> Any:
    """Call the API; return the decoded JSON, or exit 2 with the server's message on any error."""
    with client() as c:
        try:
            resp = c.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            fail(f"cannot reach {c.base_url}: {exc.__class__.__name__}")
    if resp.status_code >= 400:
        try:
            err = resp.json()["error"]
            message = err["message"]
            details = err.get("details") or []
            if details and isinstance(details[0], dict) and "field" in details[0]:
                said = [f"{d.get('field')}: {d.get('message', '')}" for d in details[:5]]
                said = [d for d in said if d not in message]  # a message naming its one field says it already
                if said:
                    message += " (" + "; ".join(said) + ")"
        except Exception:
            message = f"HTTP {resp.status_code}"
        fail(message)
    if resp.status_code == 204 or not resp.content:  # no content (a DELETE): nothing to decode
        return None
    if resp.headers.get("content-type", "").startswith("application/json"):
        return resp.json()
    return resp.text

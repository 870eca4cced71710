"""Targets: what an eval run calls (in-process Python, templated HTTP, OpenAI-compatible chat), with retries.

Over ~400 lines on purpose: three target kinds over one HTTP plumbing (client pool, guarded resolver, retries) that
the LLM judge reuses.

Every target raises :class:`TargetError` for a call that failed after its retries (timeout, bad status, garbage
response); the runner marks that case ``timeout_or_error`` and the run goes on.
"""
from __future__ import annotations

import asyncio
import json
import random
import re
import socket
import ssl
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import aiohttp
import aiohttp.abc
import httpx
from multidict import CIMultiDict

from takeoff.core import netguard
from takeoff.evals.sandbox import Sandbox, SandboxError

RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})
TARGET_TYPES = ("python", "http", "openai")
_PLACEHOLDER = re.compile(r"\{\{\s*(input(?:\.[A-Za-z0-9_\-]+)*)\s*\}\}")


@dataclass
class TargetResponse:
    """What one call returned: the output to score, its latency, token usage, cost and the raw payload."""

    output: Any
    latency_ms: float
    tokens: dict[str, int] = field(default_factory=dict)
    cost_usd: float | None = None
    raw: Any = None
    attempts: int = 1


class TargetError(Exception):
    """A call that failed for good; kind is timeout, http_status, bad_response, refused or exception."""

    def __init__(self, kind: str, message: str, *, attempts: int = 1, status: int | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.status = status
        self.attempts = attempts


@runtime_checkable
class Target(Protocol):
    """Anything an eval run can call with a case input."""

    async def call(self, input: Any) -> TargetResponse: ...

    async def aclose(self) -> None: ...


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter on 429, 5xx and timeouts; max_attempts counts the first call."""

    max_attempts: int = 3
    base_delay_s: float = 0.2
    max_delay_s: float = 5.0

    def __post_init__(self) -> None:
        if not isinstance(self.max_attempts, int) or not 1 <= self.max_attempts <= 20:
            raise ValueError("retry max_attempts must be an integer from 1 to 20")
        if self.base_delay_s < 0 or self.max_delay_s < 0:
            raise ValueError("retry delays must be >= 0")

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait before the next attempt (attempt counts from 1); honours Retry-After, capped."""
        if retry_after is not None and retry_after >= 0:
            return min(retry_after, self.max_delay_s)
        ceiling = min(self.max_delay_s, self.base_delay_s * (2 ** (attempt - 1)))
        return random.uniform(0, ceiling)


def _retry_after(resp: HttpResponse) -> float | None:
    value = resp.headers.get("retry-after")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


async def post_json_with_retry(
    client: ClientPool,
    method: str,
    url: str,
    *,
    body: Any,
    headers: Mapping[str, str],
    timeout_s: float,
    retry: RetryPolicy,
) -> tuple[Any, int]:
    """Send one JSON request with retries; return (parsed JSON, attempts) or raise TargetError."""
    last: TargetError | None = None
    for attempt in range(1, retry.max_attempts + 1):
        retry_after: float | None = None
        try:
            resp = await client.request(method, url, json=body, headers=headers, timeout=timeout_s)
        except TransportTimeout:
            last = TargetError("timeout", f"no response within {timeout_s:g}s", attempts=attempt)
        except TransportRefused as exc:  # the address will not change between attempts: no retry
            raise TargetError("refused", str(exc), attempts=attempt) from None
        except TransportFailure as exc:
            last = TargetError("exception", f"connection failed: {exc}", attempts=attempt)
        else:
            if resp.status_code in RETRYABLE_STATUS:
                last = TargetError("http_status", f"HTTP {resp.status_code}", attempts=attempt, status=resp.status_code)
                retry_after = _retry_after(resp)
            elif resp.status_code >= 400:
                raise TargetError("http_status", f"HTTP {resp.status_code}: {resp.text[:200]}",
                                  attempts=attempt, status=resp.status_code)
            else:
                try:
                    return resp.json(), attempt
                except ValueError:
                    raise TargetError("bad_response", f"response is not JSON: {resp.text[:120]!r}",
                                      attempts=attempt) from None
        if attempt < retry.max_attempts:
            await asyncio.sleep(retry.delay(attempt, retry_after))
    assert last is not None
    last.attempts = retry.max_attempts
    raise last


def extract_path(payload: Any, path: str) -> Any:
    """Walk a dotted path like 'choices.0.message.content' through dicts and lists; TargetError if absent."""
    current = payload
    if not path:
        return current
    for part in path.split("."):
        if isinstance(current, Mapping) and part in current:
            current = current[part]
        elif isinstance(current, list) and part.lstrip("-").isdigit() and -len(current) <= int(part) < len(current):
            current = current[int(part)]
        else:
            raise TargetError("bad_response", f"response has no field {path!r} (stopped at {part!r})")
    return current


def _lookup_input(input_value: Any, ref: str) -> Any:
    value = input_value
    for part in ref.split(".")[1:]:
        if not isinstance(value, Mapping) or part not in value:
            raise TargetError("exception", f"case input has no field {part!r} for placeholder {{{{{ref}}}}}")
        value = value[part]
    return value


def render_template(template: Any, input_value: Any) -> Any:
    """Fill {{input}} / {{input.field}} in a JSON structure; a string that is only a placeholder keeps the type."""
    if isinstance(template, str):
        whole = _PLACEHOLDER.fullmatch(template.strip())
        if whole:
            return _lookup_input(input_value, whole.group(1))

        def sub(m: re.Match[str]) -> str:
            v = _lookup_input(input_value, m.group(1))
            return v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)

        return _PLACEHOLDER.sub(sub, template)
    if isinstance(template, Mapping):
        return {k: render_template(v, input_value) for k, v in template.items()}
    if isinstance(template, list):
        return [render_template(v, input_value) for v in template]
    return template


def _usage_tokens(payload: Any) -> dict[str, int]:
    usage = payload.get("usage") if isinstance(payload, Mapping) else None
    if not isinstance(usage, Mapping):
        return {}
    out = {}
    for key in ("prompt_tokens", "completion_tokens", "total_tokens"):
        if isinstance(usage.get(key), int):
            out[key] = usage[key]
    return out


def _check_timeout(timeout_s: Any) -> float:
    if isinstance(timeout_s, bool) or not isinstance(timeout_s, (int, float)) or not 0 < timeout_s <= 600:
        raise ValueError("timeout_s must be a number of seconds in (0, 600]")
    return float(timeout_s)


def _check_url(url: Any, name: str = "url", what: str = "eval target") -> str:
    """An http(s) URL whose host is not a literal internal address (the resolved address is checked at send)."""
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise ValueError(f"{name} must be an http:// or https:// URL")
    try:
        netguard.check_url_literal(url, netguard.active(), what)
    except netguard.OutboundRefused as exc:
        raise ValueError(str(exc)) from None
    except ValueError:
        raise ValueError(f"{name} is not a valid URL") from None
    return url


_SSL_CONTEXT: ssl.SSLContext | None = None


def _shared_ssl_context() -> ssl.SSLContext:
    """One verified TLS context per process: building one loads the CA bundle (~50 ms), too slow per client."""
    global _SSL_CONTEXT
    if _SSL_CONTEXT is None:
        _SSL_CONTEXT = httpx.create_ssl_context()
    return _SSL_CONTEXT


@dataclass
class HttpResponse:
    """A fully read HTTP response (status, case-insensitive headers, body)."""

    status_code: int
    headers: Mapping[str, str]
    content: bytes

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")

    def json(self) -> Any:
        return json.loads(self.content)


class TransportTimeout(Exception):
    """No complete response within the timeout."""


class TransportFailure(Exception):
    """The connection failed (refused, reset, DNS, TLS, malformed HTTP)."""


class TransportRefused(TransportFailure):
    """The host is, or resolves to, an address outbound requests may not reach (takeoff.core.netguard)."""


class _GuardedResolver(aiohttp.abc.AbstractResolver):
    """Resolves through takeoff.core.netguard: every address is checked, and aiohttp connects to the checked ones."""

    def __init__(self, policy: netguard.OutboundPolicy, what: str) -> None:
        self.policy, self.what = policy, what

    async def resolve(self, host: str, port: int = 0, family: int = socket.AF_INET) -> list[Any]:
        addrs = await asyncio.to_thread(netguard.resolve_checked, host, port, self.policy, self.what, family)
        return [{"hostname": host, "host": ip, "port": port, "family": fam, "proto": 0,
                 "flags": socket.AI_NUMERICHOST} for fam, ip in addrs]

    async def close(self) -> None:
        return None


class ClientPool:
    """Keep-alive HTTP connections (at most N) for eval calls, on aiohttp.

    Why aiohttp and not httpx here: an eval run is bound by the client's CPU per call once the target is fast, and
    aiohttp's C HTTP parser costs ~0.27 ms of CPU per call against ~0.9 ms for httpx's leanest path (a bare
    transport per connection) at 20 concurrent calls (bench/eval_throughput.py); the SDK keeps httpx.
    The session is created lazily inside the running loop (a new loop gets a new session); redirects are not
    followed, as an eval target answers directly.
    """

    USER_AGENT = "takeoff-evals"

    def __init__(self, max_connections: int, *, policy: netguard.OutboundPolicy | None = None,
                 what: str = "eval target") -> None:
        if isinstance(max_connections, bool) or not isinstance(max_connections, int) or max_connections < 1:
            raise ValueError("max_connections must be a positive integer")
        self.max_connections = max_connections
        self.policy = policy if policy is not None else netguard.active()
        self.what = what
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _current(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        if self._session is None or self._loop is not loop or self._session.closed:
            connector = aiohttp.TCPConnector(limit=self.max_connections, ssl=_shared_ssl_context(),
                                             resolver=_GuardedResolver(self.policy, self.what))
            self._session = aiohttp.ClientSession(connector=connector, headers={"User-Agent": self.USER_AGENT})
            self._loop = loop
        return self._session

    async def request(self, method: str, url: str, *, json: Any = None, headers: Mapping[str, str] | None = None,
                      timeout: float = 30.0) -> HttpResponse:
        """Send one request and read the whole body; raises TransportTimeout / TransportFailure."""
        session = self._current()
        try:  # a literal IP never reaches the resolver, so it is checked here
            netguard.check_url_literal(url, self.policy, self.what)
        except netguard.OutboundRefused as exc:
            raise TransportRefused(str(exc)) from None
        try:
            async with session.request(method, url, json=json, headers=dict(headers or {}), allow_redirects=False,
                                       timeout=aiohttp.ClientTimeout(total=timeout)) as resp:
                body = await resp.read()
                return HttpResponse(resp.status, CIMultiDict(resp.headers), body)
        except (TimeoutError, aiohttp.ServerTimeoutError) as exc:
            raise TransportTimeout(str(exc) or "timeout") from None
        except (aiohttp.ClientError, OSError, ValueError) as exc:
            refused = exc if isinstance(exc, netguard.OutboundRefused) else getattr(exc, "os_error", None)
            if isinstance(refused, netguard.OutboundRefused):
                raise TransportRefused(str(refused)) from None
            raise TransportFailure(f"{type(exc).__name__}: {exc}") from None

    async def aclose(self) -> None:
        session, self._session, self._loop = self._session, None, None
        if session is not None and not session.closed:
            await session.close()


def _client(max_connections: int) -> ClientPool:
    return ClientPool(max_connections)


class PythonTarget:
    """Calls a listed 'module:function' in the run's worker subprocess (see takeoff.evals.sandbox).

    The function gets the case input and returns the output, or a dict {output, tokens?, cost_usd?}. Only code the
    operator lists in TAKEOFF_EVAL_PYTHON_MODULES may be named; nothing runs in the server process.
    """

    def __init__(self, ref: str, *, timeout_s: float = 60.0, sandbox: Sandbox | None = None) -> None:
        self.timeout_s = _check_timeout(timeout_s)
        self._own = sandbox is None
        self.sandbox = sandbox if sandbox is not None else Sandbox()
        self.ref = self.sandbox.add(ref, "target")

    async def call(self, input: Any) -> TargetResponse:
        started = time.perf_counter()
        try:
            result = await self.sandbox.call(self.ref, [input], self.timeout_s)
        except SandboxError as exc:
            if exc.kind == "timeout":
                raise TargetError("timeout", f"{self.ref} took longer than {self.timeout_s:g}s") from None
            raise TargetError("exception", str(exc)) from None
        latency = (time.perf_counter() - started) * 1000
        if isinstance(result, Mapping) and "output" in result and set(result) <= {"output", "tokens", "cost_usd"}:
            tokens = result.get("tokens") or {}
            cost = result.get("cost_usd")
            return TargetResponse(result["output"], latency, dict(tokens), float(cost) if cost is not None else None,
                                  raw=result)
        return TargetResponse(result, latency, raw=result)

    async def aclose(self) -> None:
        if self._own:
            await self.sandbox.aclose()


class HttpTarget:
    """POSTs a templated JSON body and reads the output at a dotted response path."""

    def __init__(
        self,
        url: str,
        *,
        method: str = "POST",
        body_template: Any = None,
        response_path: str = "",
        headers: Mapping[str, str] | None = None,
        timeout_s: float = 30.0,
        retry: RetryPolicy | None = None,
        max_connections: int = 100,
    ) -> None:
        self.url = _check_url(url)
        method = str(method).upper()
        if method not in ("POST", "PUT", "GET"):
            raise ValueError("http target method must be POST, PUT or GET")
        self.method = method
        if isinstance(body_template, str):
            try:
                body_template = json.loads(body_template)
            except json.JSONDecodeError:
                raise ValueError("http target body_template must be valid JSON") from None
        self.body_template = body_template if body_template is not None else {"input": "{{input}}"}
        if not isinstance(response_path, str):
            raise ValueError("http target response_path must be a dotted path string")
        self.response_path = response_path
        if headers is not None and not (isinstance(headers, Mapping) and all(
                isinstance(k, str) and isinstance(v, str) for k, v in headers.items())):
            raise ValueError("http target headers must map strings to strings")
        self.headers = dict(headers or {})
        self.timeout_s = _check_timeout(timeout_s)
        self.retry = retry or RetryPolicy()
        self._client = _client(max_connections)

    async def call(self, input: Any) -> TargetResponse:
        started = time.perf_counter()
        body = render_template(self.body_template, input)
        payload, attempts = await post_json_with_retry(
            self._client, self.method, self.url, body=body if self.method != "GET" else None,
            headers=self.headers, timeout_s=self.timeout_s, retry=self.retry)
        output = extract_path(payload, self.response_path)
        latency = (time.perf_counter() - started) * 1000
        return TargetResponse(output, latency, _usage_tokens(payload), None, raw=payload, attempts=attempts)

    async def aclose(self) -> None:
        await self._client.aclose()


class OpenAITarget:
    """Any OpenAI-compatible /chat/completions endpoint; cost from per-million-token prices when given."""

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key: str | None = None,
        system_prompt: str | None = None,
        prompt_template: str = "{{input}}",
        params: Mapping[str, Any] | None = None,
        price_input_per_mtok: float | None = None,
        price_output_per_mtok: float | None = None,
        timeout_s: float = 60.0,
        retry: RetryPolicy | None = None,
        max_connections: int = 100,
    ) -> None:
        self.url = _check_url(base_url, "base_url").rstrip("/") + "/chat/completions"
        if not isinstance(model, str) or not model.strip():
            raise ValueError("openai target needs a model name")
        self.model = model
        if not isinstance(prompt_template, str) or not prompt_template:
            raise ValueError("openai target prompt_template must be a non-empty string")
        self.prompt_template = prompt_template
        if system_prompt is not None and not isinstance(system_prompt, str):
            raise ValueError("openai target system_prompt must be a string")
        self.system_prompt = system_prompt
        if params is not None and not isinstance(params, Mapping):
            raise ValueError("openai target params must be an object")
        self.params = dict(params or {})
        for name, price in (("price_input_per_mtok", price_input_per_mtok),
                            ("price_output_per_mtok", price_output_per_mtok)):
            if price is not None and (not isinstance(price, (int, float)) or price < 0):
                raise ValueError(f"{name} must be a number >= 0")
        self.price_in = price_input_per_mtok
        self.price_out = price_output_per_mtok
        self.headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.timeout_s = _check_timeout(timeout_s)
        self.retry = retry or RetryPolicy()
        self._client = _client(max_connections)

    def _messages(self, input: Any) -> list[dict[str, str]]:
        prompt = render_template(self.prompt_template, input)
        if not isinstance(prompt, str):
            prompt = json.dumps(prompt, ensure_ascii=False)
        messages = [{"role": "system", "content": self.system_prompt}] if self.system_prompt else []
        messages.append({"role": "user", "content": prompt})
        return messages

    async def call(self, input: Any) -> TargetResponse:
        started = time.perf_counter()
        body = {**self.params, "model": self.model, "messages": self._messages(input)}
        payload, attempts = await post_json_with_retry(
            self._client, "POST", self.url, body=body, headers=self.headers,
            timeout_s=self.timeout_s, retry=self.retry)
        output = extract_path(payload, "choices.0.message.content")
        tokens = _usage_tokens(payload)
        cost = None
        if self.price_in is not None and self.price_out is not None and tokens:
            cost = (tokens.get("prompt_tokens", 0) * self.price_in
                    + tokens.get("completion_tokens", 0) * self.price_out) / 1_000_000
        latency = (time.perf_counter() - started) * 1000
        return TargetResponse(output, latency, tokens, cost, raw=payload, attempts=attempts)

    async def aclose(self) -> None:
        await self._client.aclose()


def _retry_from_spec(spec: Mapping[str, Any]) -> RetryPolicy:
    raw = spec.get("retry", {})
    if not isinstance(raw, Mapping):
        raise ValueError("target retry must be an object {max_attempts, base_delay_s, max_delay_s}")
    unknown = set(raw) - {"max_attempts", "base_delay_s", "max_delay_s"}
    if unknown:
        raise ValueError(f"unknown retry setting {sorted(unknown)[0]!r}")
    return RetryPolicy(**raw)


_ALLOWED = {
    "python": {"type", "ref", "timeout_s"},
    "http": {"type", "url", "method", "body_template", "response_path", "headers", "timeout_s", "retry",
             "max_connections"},
    "openai": {"type", "base_url", "model", "api_key", "system_prompt", "prompt_template", "params",
               "price_input_per_mtok", "price_output_per_mtok", "timeout_s", "retry", "max_connections"},
}


def make_target(spec: Mapping[str, Any], *, sandbox: Sandbox | None = None) -> PythonTarget | HttpTarget | OpenAITarget:
    """Build a target from a spec dict {type: python|http|openai, ...}; ValueError names the bad field.

    A python target registers its ref with ``sandbox`` (the run's child process; a private one when None)."""
    if not isinstance(spec, Mapping):
        raise ValueError("target spec must be an object with a 'type'")
    kind = spec.get("type")
    if kind not in TARGET_TYPES:
        raise ValueError(f"target type must be one of {', '.join(TARGET_TYPES)}, got {kind!r}")
    unknown = sorted(set(spec) - _ALLOWED[kind])
    if unknown:
        raise ValueError(f"{kind} target: unknown field {unknown[0]!r}")
    kwargs = {k: v for k, v in spec.items() if k not in ("type", "retry")}
    try:
        if kind == "python":
            if "ref" not in spec:
                raise ValueError("python target needs 'ref' as 'module:function'")
            return PythonTarget(**kwargs, sandbox=sandbox)
        if kind == "http":
            if "url" not in spec:
                raise ValueError("http target needs 'url'")
            return HttpTarget(**kwargs, retry=_retry_from_spec(spec))
        if "base_url" not in spec or "model" not in spec:
            raise ValueError("openai target needs 'base_url' and 'model'")
        return OpenAITarget(**kwargs, retry=_retry_from_spec(spec))
    except TypeError as exc:
        raise ValueError(f"{kind} target: {exc}") from None


CallFn = Callable[[Any], Awaitable[TargetResponse]]

"""The moderation judge detector (takeoff.sdk.moderation) against a local OpenAI-compatible /v1/moderations server."""
from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from takeoff.sdk.safety import check, parse_policy

SEEN: list[dict[str, Any]] = []


class _Moderation(BaseHTTPRequestHandler):
    """Scores 'violence' 0.95 when the input mentions a weapon; answers slowly, badly or with 500 on cue."""

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        SEEN.append({"path": self.path, "body": body, "auth": self.headers.get("Authorization")})
        text = body["input"]
        if "slow" in text:
            time.sleep(0.6)
        if "broken" in text:
            payload: Any = {"results": []}
        elif "fail" in text:
            self.send_response(500)
            self.end_headers()
            return
        else:
            payload = {"id": "modr-1", "model": body["model"], "results": [{
                "flagged": "weapon" in text,
                "categories": {"violence": "weapon" in text, "harassment": False},
                "category_scores": {"violence": 0.95 if "weapon" in text else 0.01, "harassment": 0.2}}]}
        data = json.dumps(payload).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Moderation)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()


def _policy(base_url: str, on_error: str = "open", **options: Any) -> Any:
    return parse_policy({"output": [{"detector": "moderation", "action": "block", "threshold": 0.8,
                                     "options": {"base_url": base_url, "timeout_s": 0.3, **options}}],
                         "on_error": on_error})


def test_flagged_output_is_blocked_and_clean_output_passes(base_url: str) -> None:
    v = check(_policy(base_url), "output", "here is how to build a weapon")
    assert v.blocked and v.findings[0].label.startswith("moderation:violence") and v.findings[0].score == 0.95
    assert SEEN[-1]["path"] == "/v1/moderations" and SEEN[-1]["body"]["model"] == "omni-moderation-latest"
    assert check(_policy(base_url), "output", "your parcel ships today").action is None


def test_categories_option_counts_only_those(base_url: str) -> None:
    assert check(_policy(base_url, categories=["harassment"]), "output", "a weapon").action is None


@pytest.mark.parametrize("text", ["slow answer", "broken answer", "fail please"])
def test_a_failing_judge_follows_on_error(base_url: str, text: str) -> None:
    opened = check(_policy(base_url, "open"), "output", text)
    assert opened.action == "flag" and opened.findings[0].label.startswith("error: ModerationError")
    assert check(_policy(base_url, "closed"), "output", text).blocked


def test_api_key_comes_from_the_named_environment_variable(base_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    policy = _policy(base_url, api_key_env="MOD_KEY_FOR_TEST")
    monkeypatch.delenv("MOD_KEY_FOR_TEST", raising=False)
    assert check(policy, "output", "hello").findings[0].label.startswith("error")  # no key: a failure, not a call
    monkeypatch.setenv("MOD_KEY_FOR_TEST", "k-123")
    assert check(policy, "output", "hello").action is None and SEEN[-1]["auth"] == "Bearer k-123"


@pytest.mark.parametrize("options,field", [
    ({}, "base_url"), ({"base_url": "file:///etc/passwd"}, "base_url"),
    ({"base_url": "http://h/v1", "timeout_s": 0}, "timeout_s"), ({"base_url": "http://h/v1", "timeout_s": 99}, "timeout_s"),
    ({"base_url": "http://h/v1", "categories": []}, "categories"), ({"base_url": "http://h/v1", "model": ""}, "model"),
    ({"base_url": "http://h/v1", "api_key_env": "not a var"}, "api_key_env"),
    ({"base_url": "http://h/v1", "api_key": "sk-123"}, "api_key"),
])
def test_bad_options_name_the_field(options: dict[str, Any], field: str) -> None:
    with pytest.raises(ValueError, match=rf"safety\.input\[0\]\.options\.{field}"):
        parse_policy({"input": [{"detector": "moderation", "options": options}]})

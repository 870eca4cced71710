"""Scorers: deterministic checks, error categories, LLM judge verdict parsing over a local endpoint, custom scorer."""
from __future__ import annotations

import asyncio
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from takeoff.evals.evalset_io import Case
from takeoff.evals.checks import FORMAT_ERROR, Score, coerce_score
from takeoff.evals.judges import LLMJudge
from takeoff.evals.scorers import make_scorer, make_scorers
from takeoff.evals.targets import TargetResponse

class QuietServer(ThreadingHTTPServer):
    """A client that timed out closes its socket; the late write's BrokenPipe is expected, not news."""

    daemon_threads = True

    def handle_error(self, request, client_address):
        pass



def _score(spec, output, expected=None, *, latency_ms=10.0, cost=None):
    scorer = make_scorer(spec)
    case = Case("c1", "q", expected)

    async def go():
        try:
            return await scorer.score(case, TargetResponse(output, latency_ms, cost_usd=cost))
        finally:
            if hasattr(scorer, "aclose"):
                await scorer.aclose()

    return asyncio.run(go())


def test_exact_normalises_whitespace_and_case():
    assert _score({"type": "exact"}, "  Paris \n", "paris").passed
    s = _score({"type": "exact"}, "Lyon", "Paris")
    assert not s.passed and s.error_category == "wrong_answer"
    assert not _score({"type": "exact", "case_sensitive": True}, "paris", "Paris").passed
    assert "no expected" in _score({"type": "exact"}, "x", None).detail


def test_contains_all_any_and_share():
    s = _score({"type": "contains", "values": ["alpha", "beta"]}, "alpha only")
    assert not s.passed and s.value == 0.5
    assert _score({"type": "contains", "values": ["alpha", "beta"], "mode": "any"}, "alpha only").passed
    assert _score({"type": "contains"}, "the answer is 42", "42").passed


def test_not_contains_flags_unsafe_output():
    s = _score({"type": "not_contains", "values": ["password"]}, "here is the PASSWORD")
    assert not s.passed and s.error_category == "unsafe_output"


def test_regex_and_numeric_tolerance():
    assert _score({"type": "regex", "pattern": r"^\d{4}-\d{2}-\d{2}$"}, "2026-11-25").passed
    assert _score({"type": "regex", "pattern": r"^\d+$"}, "abc").error_category == "format_error"
    assert _score({"type": "numeric", "abs_tol": 0.01}, "total: 3.141", "3.14").passed
    assert not _score({"type": "numeric", "rel_tol": 0.01}, "105", 100).passed
    assert _score({"type": "numeric", "rel_tol": 0.05}, "105", 100).passed
    assert _score({"type": "numeric"}, "no digits", 1).error_category == "format_error"


def test_json_valid_and_schema():
    assert _score({"type": "json_valid"}, '```json\n{"a": 1}\n```').passed
    bad = _score({"type": "json_valid"}, "{a: 1}")
    assert not bad.passed and bad.error_category == FORMAT_ERROR
    schema = {"type": "object", "required": ["amount"], "properties": {"amount": {"type": "number"}}}
    assert _score({"type": "json_schema", "schema": schema}, '{"amount": 12.5}').passed
    s = _score({"type": "json_schema", "schema": schema}, '{"amount": "twelve"}')
    assert not s.passed and "amount" in s.detail


def test_similarity_uses_rapidfuzz_threshold():
    s = _score({"type": "similarity", "threshold": 0.8}, "the quick brown fox", "quick brown the fox")
    assert s.passed and s.value == 1.0
    assert not _score({"type": "similarity", "threshold": 0.9}, "completely different", "the quick fox").passed


def test_latency_and_cost_budgets():
    assert _score({"type": "latency_budget", "max_ms": 100}, "x", latency_ms=50).passed
    assert not _score({"type": "latency_budget", "max_ms": 100}, "x", latency_ms=150).passed
    assert _score({"type": "cost_budget", "max_usd": 0.01}, "x", cost=0.001).passed
    unknown = _score({"type": "cost_budget", "max_usd": 0.01}, "x")
    assert not unknown.passed and "no cost" in unknown.detail


def test_custom_scorer_from_module(tmp_path, monkeypatch):
    (tmp_path / "my_eval_scorers_xyz.py").write_text(
        "def starts(output, expected, case):\n"
        "    return {'passed': output.startswith(expected), 'error_category': 'missing_context'}\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    from takeoff.evals import sandbox

    sandbox.configure(sandbox.parse_allow("my_eval_scorers_xyz:starts"))  # listed by the operator
    try:
        spec = {"type": "custom", "ref": "my_eval_scorers_xyz:starts"}
        assert _score(spec, "Paris is", "Paris").passed
        s = _score(spec, "Lyon", "Paris")
        assert not s.passed and s.error_category == "missing_context"
    finally:
        sys.modules.pop("my_eval_scorers_xyz", None)


def test_coerce_score_shapes():
    assert coerce_score(True) == Score(True, 1.0, None)
    assert coerce_score(0.3).error_category == "wrong_answer"
    with pytest.raises(ValueError, match="custom scorer must return"):
        coerce_score("yes")


@pytest.mark.parametrize("text, passed, category", [
    ('{"score": 0.9, "passed": true, "category": null, "reason": "grounded"}', True, None),
    ('{"score": 0.2, "passed": false, "category": "missing_context", "reason": "no source"}', False,
     "missing_context"),
    ('{"score": 0.9, "passed": true}', True, None),
    ('{"score": 0.3, "passed": true}', False, "wrong_answer"),  # below threshold overrides "passed"
    ("I think it is fine", False, "format_error"),
    ('{"score": 7}', False, "format_error"),
    ('{"score": 0.9, "passed": "yes"}', False, "format_error"),
])
def test_judge_verdict_is_parsed_strictly(text, passed, category):
    s = LLMJudge.parse_verdict(text, 0.5)
    assert (s.passed, s.error_category) == (passed, category)


class _JudgeHandler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_POST(self):  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.seen.append(body)
        user = body["messages"][-1]["content"]
        good = "OUTPUT:\nParis" in user
        verdict = {"score": 1.0 if good else 0.0, "passed": good,
                   "category": None if good else "wrong_answer", "reason": "checked"}
        data = json.dumps({"choices": [{"message": {"content": json.dumps(verdict)}}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def test_llm_judge_over_a_local_openai_compatible_endpoint():
    srv = QuietServer(("127.0.0.1", 0), _JudgeHandler)
    srv.seen = []
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        base = f"http://127.0.0.1:{srv.server_address[1]}/v1"
        spec = {"type": "llm_judge", "base_url": base, "model": "judge-1", "rubric": "Is the capital right?"}
        assert _score(spec, "Paris", "Paris").passed
        s = _score(spec, "Lyon", "Paris")
        assert not s.passed and s.error_category == "wrong_answer"
        assert "Is the capital right?" in srv.seen[0]["messages"][-1]["content"]
        down = {**spec, "base_url": "http://127.0.0.1:1/v1", "timeout_s": 0.5}
        failed = _score(down, "Paris", "Paris")
        assert not failed.passed and failed.error_category == "timeout_or_error"
    finally:
        srv.shutdown()
        srv.server_close()


@pytest.mark.parametrize("spec, message", [
    (None, "must be an object"),
    ({"type": "bleu"}, "scorer type must be one of"),
    ({"type": "regex"}, "needs a 'pattern'"),
    ({"type": "regex", "pattern": "("}, "invalid pattern"),
    ({"type": "numeric", "abs_tol": -1}, "abs_tol"),
    ({"type": "similarity", "threshold": 2}, "threshold"),
    ({"type": "similarity", "method": "bleu"}, "method must be one of"),
    ({"type": "json_schema"}, "needs a 'schema'"),
    ({"type": "json_schema", "schema": {"type": "nonsense"}}, "invalid schema"),
    ({"type": "exact", "category": "oops"}, "error category must be one of"),
    ({"type": "latency_budget"}, "max_ms"),
    ({"type": "contains", "mode": "some"}, "'mode'"),
    ({"type": "not_contains"}, "forbidden phrases"),
    ({"type": "custom", "ref": "json"}, "module:function"),
    ({"type": "llm_judge", "base_url": "http://x", "model": "m"}, "rubric"),
    ({"type": "llm_judge", "base_url": "http://x", "model": "m", "rubric": "r", "temp": 1}, "unknown field"),
])
def test_bad_scorer_specs_are_refused(spec, message):
    with pytest.raises(ValueError, match=message):
        make_scorer(spec)


def test_make_scorers_requires_unique_names():
    with pytest.raises(ValueError, match="non-empty list"):
        make_scorers([])
    with pytest.raises(ValueError, match="two scorers are named 'exact'"):
        make_scorers([{"type": "exact"}, {"type": "exact"}])


def test_a_scorer_kind_registers_like_the_defaults_and_is_built_by_make_scorer(monkeypatch):
    from takeoff.evals import scorers
    from takeoff.evals.checks import WRONG_ANSWER

    monkeypatch.setattr(scorers, "_KINDS", dict(scorers._KINDS))
    assert scorers.scorer_types()[:3] == ("exact", "contains", "not_contains") and "cost_budget" in scorers.scorer_types()

    def options(spec):
        prefix = spec.get("prefix")
        if not isinstance(prefix, str) or not prefix:
            raise ValueError("scorer 'starts_with' needs a 'prefix'")
        return {"prefix": prefix}

    kind = scorers.register_scorer(scorers.ScorerKind(
        "starts_with", "begins with a prefix", options,
        lambda name, o, _sandbox: scorers.CheckScorer(name, lambda c, r: Score(
            str(r.output).startswith(o["prefix"]), 1.0, None if str(r.output).startswith(o["prefix"]) else WRONG_ANSWER))))
    assert kind in scorers.scorer_kinds()
    assert _score({"type": "starts_with", "prefix": "Dear"}, "Dear Sam").passed
    assert _score({"type": "starts_with", "prefix": "Dear"}, "Hi Sam").error_category == WRONG_ANSWER
    with pytest.raises(ValueError, match="needs a 'prefix'"):
        scorers.validate_scorer({"type": "starts_with"})
    with pytest.raises(ValueError, match="not a new ScorerKind"):
        scorers.register_scorer(kind)
    with pytest.raises(ValueError, match="scorer type must be one of .*starts_with"):
        make_scorer({"type": ["exact"]})

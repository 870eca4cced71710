"""The scorers that call out: a model-graded LLM judge over an OpenAI-compatible endpoint, and a team's own custom
scorer run in the eval run's sandboxed subprocess."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from takeoff.evals.checks import (ERROR_CATEGORIES, FORMAT_ERROR, TIMEOUT_OR_ERROR, WRONG_ANSWER, Score, as_text,
                                  coerce_score, parse_json)
from takeoff.evals.evalset_io import Case
from takeoff.evals.sandbox import Sandbox, SandboxError
from takeoff.evals.targets import (ClientPool, RetryPolicy, TargetError, TargetResponse, _check_url, extract_path,
                                   post_json_with_retry)


def check_judge_url(base_url: Any) -> str:
    """The judge's endpoint: an http(s) URL whose host is not a literal internal address; ValueError otherwise."""
    return _check_url(base_url, "llm_judge base_url", "llm_judge")


class LLMJudge:
    """Model-graded scorer: sends a rubric, the input, the expected and the output; reads a strict JSON verdict.

    The verdict must be {"score": 0..1, "passed": bool, "category": one of ERROR_CATEGORIES or null,
    "reason": str}; anything else is a format_error of the judge (case fails, run goes on).
    """

    def __init__(self, base_url: str, model: str, rubric: str, *, api_key: str | None = None,
                 threshold: float = 0.5, timeout_s: float = 60.0, retry: RetryPolicy | None = None,
                 name: str = "llm_judge") -> None:
        check_judge_url(base_url)
        if not isinstance(model, str) or not model.strip():
            raise ValueError("llm_judge needs a model name")
        if not isinstance(rubric, str) or not rubric.strip():
            raise ValueError("llm_judge needs a non-empty rubric")
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model, self.rubric, self.threshold, self.name = model, rubric, float(threshold), name
        self.headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.timeout_s = float(timeout_s)
        self.retry = retry or RetryPolicy()
        self._client = ClientPool(32, what="llm_judge")

    def messages(self, case: Case, output: Any) -> list[dict[str, str]]:
        system = ("You are a strict evaluator. Grade the OUTPUT against the RUBRIC. Reply with JSON only: "
                  '{"score": <number 0..1>, "passed": <true|false>, "category": <null or one of '
                  + ", ".join(f'"{c}"' for c in ERROR_CATEGORIES) + '>, "reason": "<one sentence>"}')
        user = (f"RUBRIC:\n{self.rubric}\n\nINPUT:\n{as_text(case.input)}\n\n"
                f"EXPECTED:\n{as_text(case.expected) if case.expected is not None else '(none)'}\n\n"
                f"OUTPUT:\n{as_text(output)}")
        return [{"role": "system", "content": system}, {"role": "user", "content": user}]

    @staticmethod
    def parse_verdict(text: Any, threshold: float) -> Score:
        """Strict parse of the judge's JSON; a malformed verdict is a failed case with format_error."""
        doc, err = parse_json(text)
        if err or not isinstance(doc, Mapping):
            return Score(False, 0.0, FORMAT_ERROR, f"judge verdict is not a JSON object: {str(text)[:80]!r}")
        value = doc.get("score")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
            return Score(False, 0.0, FORMAT_ERROR, "judge verdict 'score' must be a number in [0, 1]")
        passed = doc.get("passed", value >= threshold)
        if not isinstance(passed, bool):
            return Score(False, 0.0, FORMAT_ERROR, "judge verdict 'passed' must be true or false")
        passed = passed and value >= threshold
        category = doc.get("category")
        if category not in ERROR_CATEGORIES:
            category = None
        reason = str(doc.get("reason", ""))[:300]
        return Score(passed, float(value), None if passed else (category or WRONG_ANSWER), reason)

    async def score(self, case: Case, response: TargetResponse) -> Score:
        body = {"model": self.model, "messages": self.messages(case, response.output), "temperature": 0}
        try:
            payload, _ = await post_json_with_retry(self._client, "POST", self.url, body=body,
                                                    headers=self.headers, timeout_s=self.timeout_s,
                                                    retry=self.retry)
            text = extract_path(payload, "choices.0.message.content")
        except TargetError as exc:
            return Score(False, 0.0, TIMEOUT_OR_ERROR, f"judge call failed: {exc}")
        return self.parse_verdict(text, self.threshold)

    async def aclose(self) -> None:
        await self._client.aclose()


class CustomScorer:
    """A listed 'module:function' scorer f(output, expected, case) -> Score | bool | float | dict (may be async),
    called in the run's worker subprocess like a python target."""

    TIMEOUT_S = 60.0

    def __init__(self, ref: str, *, threshold: float = 0.5, name: str | None = None,
                 sandbox: Sandbox | None = None) -> None:
        self._own = sandbox is None
        self.sandbox = sandbox if sandbox is not None else Sandbox()
        self.ref = self.sandbox.add(ref, "custom scorer")
        self.name = name or ref
        self.threshold = float(threshold)

    async def score(self, case: Case, response: TargetResponse) -> Score:
        case_doc = {"__case__": True, "case_id": case.case_id, "input": case.input, "expected": case.expected,
                    "tags": list(case.tags), "metadata": case.metadata}
        try:
            result = await self.sandbox.call(self.ref, [response.output, case.expected, case_doc], self.TIMEOUT_S)
        except SandboxError as exc:
            return Score(False, 0.0, TIMEOUT_OR_ERROR, f"scorer failed: {exc}")
        return coerce_score(result, self.threshold)

    async def aclose(self) -> None:
        if self._own:
            await self.sandbox.aclose()

"""OTLP spans as usage events, trace by trace: which spans are usage events, their fields, content and span tree.

Which span is what (each span's own attributes decide; OpenInference's kind first, then the GenAI conventions'
operation, then Traceloop's kinds):
- a **model call** (a usage event): `openinference.span.kind` LLM or EMBEDDING; a `gen_ai.operation.name` other
  than the steps below (chat, text_completion, generate_content, embeddings, ...); Traceloop's `llm.request.type`;
  or, without any of these, a span with a GenAI provider, model or `gen_ai.usage.*` count, or tagged
  `takeoff.use_case` / `takeoff.release` itself.
- a **step** of a request: OpenInference CHAIN, AGENT, TOOL, RETRIEVER, RERANKER, GUARDRAIL, EVALUATOR, PROMPT;
  GenAI operations invoke_agent, create_agent, invoke_workflow, execute_tool, retrieval; Traceloop's
  `traceloop.span.kind` (workflow, task, agent, tool).
- **not GenAI** (HTTP, database, ...): no `gen_ai.*`, `llm.*`, `openinference.*` or `takeoff.*` attribute.
- **unmappable**: GenAI-looking attributes (`gen_ai.*`, `llm.*`, `openinference.*`) but none of the above (an
  unknown OpenInference kind, a lone `gen_ai.tool.name`): refused, with its reason, in partial_success and in the
  `takeoff_otlp_spans_rejected_total{reason}` counter, never dropped silently.

No double counting: a step is never a usage event while its trace has a model call, in this export or (stored
from an earlier export) in this process's memory of recent traces (`SeenTraces`): an agent or chain that wraps LLM
spans, and the token sums such wrappers carry, are counted once, through the LLM spans. A trace with steps and no
model call at all (an agent or a tool instrumented alone) is one usage event per top-most step (no step among its
ancestors in the export), the steps under it in its span tree. A step exported after its trace's model calls were
stored is refused with the reason "step_after_calls" (the request's span tree is the one stored with its calls).

Every usage event carries its trace's spans present in the same export (parents, tools, retrievers, chains, HTTP
and database spans too; its own span and ancestors first when the trace has more than MAX_SPANS) with the
non-content attributes kept (otlp_spans), its trace/span/parent ids, and its content (the mappers of
otlp_map_genai, otlp_map_traceloop, otlp_map_openinference): messages, tool calls asked for, and the ids of the
documents retrieved in its trace before it started. Whether content is stored is the use case's capture policy.
"""
from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from typing import Any, NamedTuple

from takeoff.sdk import tracking
from takeoff.sdk.ids import span_request_id
from takeoff.telemetry import otlp_map_genai, otlp_map_openinference, otlp_map_traceloop, otlp_spans
from takeoff.telemetry.otlp_fields import error_category, tokens_sent
from takeoff.telemetry.otlp_values import Content, attributes, json_safe, number, text
from takeoff.telemetry.schemas import MAX_SPANS

CALL, STEP, OTHER, UNMAPPED = "call", "step", "other", "unmapped"
OUTCOMES = set(tracking.OUTCOMES)  # the SDK's vocabulary, one definition
KEPT = ("gen_ai.operation.name", "gen_ai.response.finish_reasons", "gen_ai.response.id", "gen_ai.conversation.id",
        "gen_ai.request.temperature", "gen_ai.request.max_tokens", "openinference.span.kind", "llm.request.type",
        "traceloop.span.kind")
USAGE_MARKERS = frozenset(("gen_ai.operation.name", "gen_ai.provider.name", "gen_ai.system", "gen_ai.request.model",
                           "gen_ai.response.model", "takeoff.use_case", "takeoff.release"))
OI_CALLS = frozenset(("LLM", "EMBEDDING"))
OI_STEPS = frozenset(("CHAIN", "AGENT", "TOOL", "RETRIEVER", "RERANKER", "GUARDRAIL", "EVALUATOR", "PROMPT"))
STEP_OPS = frozenset(("invoke_agent", "create_agent", "invoke_workflow", "execute_tool", "retrieval"))
GENAI_PREFIXES = ("gen_ai.", "llm.", "openinference.")


class Refusal(NamedTuple):
    """A span not stored: a bounded reason label (the Prometheus counter's) and the message for partial_success."""

    reason: str
    message: str


class Mapped(NamedTuple):
    """An export's usage events (EventIn's shape, not yet checked), how many spans were not GenAI (skipped) or are
    kept only in a span tree, and the GenAI spans refused."""

    events: list[dict[str, Any]]
    skipped: int
    refused: list[Refusal]


class SeenTraces:
    """The traces whose usage events this process stored lately (bounded, oldest forgotten first): a step exported
    after its trace's model calls is not a second usage event."""

    def __init__(self, size: int = 65536) -> None:
        self.size = size
        self._traces: OrderedDict[str, set[str]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, trace_id: str) -> frozenset[str] | None:
        """The span ids of the trace's stored usage events, None for a trace not seen lately."""
        with self._lock:
            found = self._traces.get(trace_id)
            return None if found is None else frozenset(found)

    def add(self, events: Iterable[Mapping[str, Any]]) -> None:
        """Remember the traces of stored events."""
        with self._lock:
            for ev in events:
                tid, sid = ev.get("trace_id"), ev.get("span_id")
                if tid:
                    self._traces.setdefault(tid, set()).add(sid or "")
                    self._traces.move_to_end(tid)
            while len(self._traces) > self.size:
                self._traces.popitem(last=False)


class Rec:
    """One span of the export with what the mapping needs of it (slots: one is made per span)."""

    __slots__ = ("span", "a", "res", "role", "why", "tid", "sid", "pid", "start", "children")

    def __init__(self, span: Any, a: dict[str, Any], res: dict[str, Any], role: str, why: str, tid: str, sid: str,
                 pid: str | None, start: int) -> None:
        self.span, self.a, self.res, self.role, self.why = span, a, res, role, why
        self.tid, self.sid, self.pid, self.start = tid, sid, pid, start
        self.children: list[Rec] = []


def classify(a: Mapping[str, Any]) -> tuple[str, str]:
    """(CALL, STEP, OTHER or UNMAPPED, why) of a span by its own attributes (see the module's docstring)."""
    oi = a.get("openinference.span.kind")
    if oi is not None:
        kind = str(oi).upper()
        if kind in OI_CALLS:
            return CALL, ""
        if kind in OI_STEPS:
            return STEP, ""
        return UNMAPPED, f"unknown openinference.span.kind {str(oi)[:40]!r}"
    op = a.get("gen_ai.operation.name")
    if op is not None:
        return (STEP if op in STEP_OPS else CALL), ""
    if "traceloop.span.kind" in a:
        return STEP, ""
    if "llm.request.type" in a or any(k in USAGE_MARKERS or k.startswith("gen_ai.usage.") for k in a):
        return CALL, ""
    if any(k.startswith(GENAI_PREFIXES) for k in a):
        return UNMAPPED, "GenAI attributes without an operation, kind, provider, model or token count"
    return OTHER, ""


_GENAI_CONTENT = ("gen_ai.system_instructions", "gen_ai.input.messages", "gen_ai.output.messages",
                  "gen_ai.retrieval.documents")
_TRACELOOP_CONTENT = ("gen_ai.prompt.", "gen_ai.completion.", "traceloop.entity.")


def _content(r: Rec) -> Content:
    """What the span says, from whichever family's attributes and events it has (each mapper only where its keys
    are: this runs for every usage span on the ingestion hot path)."""
    c = Content()
    a = r.a
    if "openinference.span.kind" in a:
        otlp_map_openinference.content_from_attributes(c, a)
    if any(k in a for k in _GENAI_CONTENT) or a.get("gen_ai.operation.name") == "execute_tool":
        otlp_map_genai.content_from_attributes(c, a)
    for k in a:
        if k.startswith(_TRACELOOP_CONTENT):
            otlp_map_traceloop.content_from_attributes(c, a)
            break
    if len(r.span.events):
        otlp_map_genai.content_from_events(c, r.span.events)
    return c


def _ancestors(r: Rec, by_id: Mapping[str, Rec]) -> list[Rec]:
    """The span's ancestors present in the export, nearest first (a cycle in bad input ends the walk)."""
    out: list[Rec] = []
    seen = {r.sid}
    p = r.pid
    while p is not None and p in by_id and p not in seen:
        seen.add(p)
        out.append(by_id[p])
        p = by_id[p].pid
    return out


def _subtree(r: Rec) -> list[Rec]:
    out, todo, seen = [], list(r.children), {r.sid}
    while todo:
        x = todo.pop()
        if x.sid not in seen:
            seen.add(x.sid)
            out.append(x)
            todo.extend(x.children)
    return out


def _start(r: Rec) -> int:
    return r.start


class _Trace:
    """The spans of one trace in an export, their tree dicts built once for all its events."""

    def __init__(self, recs: list[Rec]) -> None:
        self.recs = sorted(recs, key=_start) if len(recs) > 1 else recs
        self.by_id = {r.sid: r for r in self.recs}
        if len(recs) > 1:
            for r in self.recs:
                if r.pid is not None and r.pid in self.by_id and r.pid != r.sid:
                    self.by_id[r.pid].children.append(r)
        self._dicts: dict[str, dict[str, Any]] | None = None

    def spans_for(self, r: Rec) -> list[dict[str, Any]]:
        """The trace's spans for the event of `r` (its own and its ancestors first past MAX_SPANS)."""
        if self._dicts is None:
            self._dicts = {}
            for x in self.recs:
                d = otlp_spans.tree_span(x.span, x.a, x.tid, x.sid, x.pid)
                if d is not None:
                    self._dicts[x.sid] = d
        if len(self._dicts) <= MAX_SPANS:
            return list(self._dicts.values())
        first = [x.sid for x in [r, *_ancestors(r, self.by_id)] if x.sid in self._dicts]
        rest = [sid for sid in self._dicts if sid not in set(first)]
        chosen = set((first + rest)[:MAX_SPANS])
        return [d for sid, d in self._dicts.items() if sid in chosen]

    def documents_before(self, r: Rec) -> list[str]:
        """The ids of documents retrieved in the trace by a retriever that started no later than `r`."""
        docs: list[str] = []
        for x in self.recs:
            if x is not r and x.start <= r.start and (
                    str(x.a.get("openinference.span.kind", "")).upper() in ("RETRIEVER", "RERANKER")
                    or x.a.get("gen_ai.operation.name") == "retrieval"):
                docs += _content(x).documents
        return docs


def _event_id(r: Rec, ev: Mapping[str, Any], end: int) -> str:
    """The span's end time (`end`, ns: its start when it has none), trace id and span id in hex
    (takeoff.sdk.ids.span_request_id: a resend is stored once, and ids grow with time); the time then a digest when
    the ids are missing or oversized."""
    raw = r.tid + r.sid if r.sid else ""
    if raw and len(raw) <= 116:
        return span_request_id(r.tid, r.sid, end)
    digest = hashlib.sha256((raw or repr(sorted((k, v) for k, v in ev.items() if k != "id"))).encode()).hexdigest()
    return span_request_id("", digest[:48], end)


def build_event(r: Rec, trace: _Trace, subtree: bool = False, with_content: bool = True,
                use_case: str | None = None) -> dict[str, Any]:
    """One span as a usage event in EventIn's shape (release as sent, values not yet checked); `subtree` merges the
    tool calls and documents of the steps under it (a step that is its trace's usage event); without
    `with_content` no content is read (a use case whose capture policy stores none)."""
    a, res, span = r.a, r.res, r.span
    get = a.get
    if use_case is None:
        use_case = _use_case(a, res)
    release = text(a, "takeoff.release", limit=100) or text(res, "takeoff.release", limit=100)
    start, end = r.start, int(span.end_time_unix_nano)
    if end <= 0:
        end = start
    latency = max(0.0, (end - start) / 1e6) if start > 0 else None
    status, category = "ok", None
    events = span.events
    if span.status.code == 2:  # STATUS_CODE_ERROR
        status, category = "error", error_category(a, events)
    fallback = text(a, "takeoff.fallback_reason")
    if fallback and status == "ok":
        status = "fallback"
    scores: dict[str, Any] = {}
    if len(events):
        for e in events:
            if e.name == "gen_ai.evaluation.result":
                ea = attributes(e.attributes)
                name, value = ea.get("gen_ai.evaluation.name"), number(ea.get("gen_ai.evaluation.score.value"))
                if isinstance(name, str) and name and value is not None:
                    scores[name[:100]] = value
    features: dict[str, Any] = {}
    for k, v in a.items():
        if k.startswith("takeoff.feature.") and isinstance(v, (int, float, str, bool)):
            features[k[16:][:100]] = v if not isinstance(v, str) else v[:200]
    outcome = get("takeoff.outcome")
    if outcome is not None:
        outcome = text(a, "takeoff.outcome")
    body = None
    if with_content:
        content = _content(r)
        if subtree:
            for x in _subtree(r):
                sub = _content(x)
                content.tool_calls += sub.tool_calls
                content.documents += sub.documents
        content.documents = trace.documents_before(r) + content.documents
        body = content.as_dict()
    model = get("gen_ai.response.model")
    model = (str(model)[:200] if model is not None and model != "" else text(a, "gen_ai.request.model")
             or otlp_map_openinference.model(a))
    ev: dict[str, Any] = {
        "id": "", "use_case": use_case, "release": release,
        "unit_id": text(a, "takeoff.unit_id", "enduser.id", "user.id"), "ts": (end or start) / 1e9,
        "latency_ms": latency, "status": status, "outcome": outcome if outcome in OUTCOMES else None,
        "model": model,
        "provider": text(a, "gen_ai.provider.name", "gen_ai.system", limit=100) or otlp_map_openinference.provider(a),
        "tokens": tokens_sent(a), "cost_usd": number(get("takeoff.cost_usd")),
        "scores": scores, "features": features, "error_category": category, "fallback_reason": fallback,
        "attributes": {k: _kept(a[k]) for k in KEPT if k in a},
    }
    if len(r.tid) == 32 and len(r.sid) == 16:
        ev.update(trace_id=r.tid, span_id=r.sid, parent_span_id=r.pid,
                  spans=trace.spans_for(r))
    if body is not None:
        ev["content"] = body
    ev["id"] = _event_id(r, ev, end)
    return ev


def _kept(v: Any) -> Any:
    """An attribute kept in the event's `attributes`: json_safe, without the call for a string or an int."""
    return v if type(v) is str or type(v) is int else json_safe(v)


def _wants(r: Rec, content_for: Callable[[str], bool] | None) -> bool:
    return content_for is None or content_for(_use_case(r.a, r.res))


def _call_event(r: Rec, trace: _Trace, content_for: Callable[[str], bool] | None) -> dict[str, Any]:
    """A model call's usage event (its use case found once, for the capture policy and the event)."""
    use_case = _use_case(r.a, r.res)
    return build_event(r, trace, with_content=content_for is None or content_for(use_case), use_case=use_case)


def _use_case(a: Mapping[str, Any], res: Mapping[str, Any]) -> str:
    """`takeoff.use_case` of the span, else of the resource, else the resource's `service.name`."""
    return (text(a, "takeoff.use_case", limit=64) or text(res, "takeoff.use_case", limit=64)
            or text(res, "service.name", limit=64) or "unknown_service")


def _parent(raw: bytes) -> str | None:
    """A parent span id in hex; None for none (or one of the wrong length)."""
    return raw.hex() if len(raw) == 8 else None


def _top_steps(trace: _Trace) -> list[Rec]:
    return [r for r in trace.recs if r.role == STEP
            and not any(x.role == STEP for x in _ancestors(r, trace.by_id))]


def span_events(req: Any, seen: SeenTraces | None = None,
                content_for: Callable[[str], bool] | None = None) -> Mapped:
    """Usage events of an ExportTraceServiceRequest by the rules of the module's docstring; `content_for(use case)`
    says whether to read content at all (reading it is about a third of the mapping's cost; None: always)."""
    traces: dict[str, list[Rec]] = {}
    for rs in req.resource_spans:
        res = attributes(rs.resource.attributes)
        for ss in rs.scope_spans:
            for span in ss.spans:
                a = attributes(span.attributes)
                role, why = classify(a)
                tid = span.trace_id.hex()  # a span without a valid trace id is a trace of its own
                traces.setdefault(tid if len(tid) == 32 else f"#{len(traces)}", []).append(Rec(
                    span, a, res, role, why, tid, span.span_id.hex(), _parent(span.parent_span_id),
                    int(span.start_time_unix_nano)))
    events: list[dict[str, Any]] = []
    skipped = 0
    refused: list[Refusal] = []
    for tid, recs in traces.items():
        if len(recs) == 1 and recs[0].role != STEP:  # most exports: one span per trace (a lone model call)
            r = recs[0]
            if r.role == CALL:
                events.append(_call_event(r, _Trace(recs), content_for))
            elif r.role == UNMAPPED:
                refused.append(Refusal("unmapped", f"span {r.tid}{r.sid}: {r.why}"))
            else:
                skipped += 1
            continue
        trace = _Trace(recs)
        calls = [r for r in trace.recs if r.role == CALL]
        refused += [Refusal("unmapped", f"span {r.tid}{r.sid}: {r.why}") for r in trace.recs if r.role == UNMAPPED]
        skipped += sum(1 for r in trace.recs if r.role == OTHER)
        if calls:
            events += [_call_event(r, trace, content_for) for r in calls]
            continue
        tops = _top_steps(trace)
        stored = seen.get(tid) if seen is not None and len(tid) == 32 else None
        if stored is not None and any(r.sid not in stored for r in tops):
            refused += [Refusal("step_after_calls", f"span {r.tid}{r.sid}: a step of a trace whose usage events "
                                "were stored from an earlier export") for r in trace.recs if r.role == STEP]
            continue
        events += [build_event(r, trace, subtree=True, with_content=_wants(r, content_for)) for r in tops]
    return Mapped(events, skipped, refused)

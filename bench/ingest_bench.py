"""Ingestion benchmark: POST /api/v1/events (batches of 500) on SQLite and PostgreSQL against a real `takeoff serve`,
and OTLP/HTTP spans/s until queryable, beside Arize Phoenix's own OTLP ingestion of the same spans.

    .venv/bin/python bench/ingest_bench.py                      # 100k events per backend, 10k spans
    .venv/bin/python bench/ingest_bench.py --events 20000 --spans 2000 --skip-phoenix
    TAKEOFF_BENCH_PG=postgresql+psycopg://postgres@127.0.0.1:5432/test  (default) picks the PostgreSQL server

"Ingested" means queryable: takeoff acknowledges only after the commit (the batch's rollup deltas are written in the
same transaction and every read adds them), and the script still polls the metrics read until every span is counted. Phoenix (20.26.1, in
bench/.venv-phoenix, created on first use) is timed the same way: POST all bodies, then poll its GraphQL
recordCount until it reaches the number of spans sent.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from takeoff.sdk.ids import uuid7_hex

ROOT = Path(__file__).resolve().parent.parent
TAKEOFF = str(Path(sys.executable).parent / "takeoff")
PHOENIX_VENV = ROOT / "bench" / ".venv-phoenix"
PG = os.environ.get("TAKEOFF_BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, timeout: float = 240) -> None:  # migrations at start take minutes on a busy machine
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    raise RuntimeError(f"{url} did not come up")


class Takeoff:
    """A `takeoff serve` subprocess on its own database, with an admin token."""

    def __init__(self, url: str, workdir: Path, workers: int = 2) -> None:
        self.port = free_port()
        self.env = {**os.environ, "TAKEOFF_DATABASE_URL": url, "TAKEOFF_DATA_DIR": str(workdir),
                    "TAKEOFF_SECRET_KEY": "bench-secret-key-0123456789abcdef", "TAKEOFF_ADMIN_PASSWORD": "bench-pw-123",
                    "TAKEOFF_EMBEDDED_WORKER": "false", "TAKEOFF_MAX_BODY_BYTES": str(64 * 1024 * 1024)}
        self.log = (workdir / "serve.log").open("ab")
        self.proc = subprocess.Popen([TAKEOFF, "serve", "--port", str(self.port), "--workers", str(workers)], env=self.env, stdout=self.log,
                                     stderr=subprocess.STDOUT)
        self.base = f"http://127.0.0.1:{self.port}"
        wait_http(self.base + "/healthz")
        out = subprocess.run([TAKEOFF, "token", "create", "--user", "admin", "--name", "bench"], env=self.env,
                             capture_output=True, text=True, check=True)
        self.headers = {"Authorization": f"Bearer {out.stdout.strip().splitlines()[-1]}"}

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()


STREAM_RATE = 20_000  # events/s the "stream" timestamps advance at: the goal's rate


def make_events(n: int, use_case: str, order: str = "stream", seed: int = 7) -> list[dict]:
    """n events shaped like the SDK's, in one of two traffic shapes:

    - "stream": what SDKs send live. Ids are the SDK's (time-ordered UUIDv7); times advance at STREAM_RATE in send
      order, each up to one flush interval (1 s) older than its place, as from apps flushing every second.
    - "replay": a backfill or a foreign sender, nothing in order. Random uuid4 ids, and every batch's times spread
      over the same minute, so each batch's entries land all over the (use_case, ts) and id indexes.
    """
    if order not in ("stream", "replay"):
        raise ValueError(f"order must be 'stream' or 'replay', got {order!r}")
    rng = random.Random(seed)
    now = time.time()
    if order == "stream":
        new_id, start = uuid7_hex, now - n / STREAM_RATE - 1.0
        ts = [start + i / STREAM_RATE + rng.random() for i in range(n)]
    else:
        new_id, ts = (lambda: uuid.uuid4().hex), [now - (i % 600) / 10 for i in range(n)]
    return [{"id": new_id(), "use_case": use_case, "release": f"{use_case}:{1 + i % 2}", "unit_id": f"u{i % 997}",
             "ts": ts[i], "latency_ms": 50.0 + (i * 37) % 2000, "status": "error" if i % 50 == 0 else "ok",
             "outcome": "success" if i % 3 else None, "model": "gpt-4o", "provider": "openai",
             "tokens": {"input": 500 + i % 100, "output": 80, "cache_read": 100}, "cost_usd": 0.0012,
             "scores": {"faithfulness": (i % 10) / 10}, "features": {"length": i % 300, "lang": "en" if i % 4 else "fr"},
             "attributes": {}} for i in range(n)]


def _proc_cpu(pid: str) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _tree(pid: int) -> list[str]:
    out, todo = [], [str(pid)]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += subprocess.run(["pgrep", "-P", p], capture_output=True, text=True).stdout.split()
    return out


def cpu_snapshot(srv: "Takeoff") -> dict[str, float]:
    """CPU seconds used so far by the server's processes, PostgreSQL's processes and this script."""
    pg = subprocess.run(["pgrep", "-x", "postgres"], capture_output=True, text=True).stdout.split()
    return {"server": sum(_proc_cpu(p) for p in _tree(srv.proc.pid)), "postgres": sum(_proc_cpu(p) for p in pg),
            "senders": time.process_time(), "wall": time.perf_counter()}


def cpu_line(before: dict[str, float], after: dict[str, float], batches: int) -> str:
    """Where the machine's CPU went, per batch: shows whether a run was CPU-bound and on what."""
    d = {k: after[k] - before[k] for k in before}
    busy = (d["server"] + d["postgres"] + d["senders"]) / (d["wall"] * (os.cpu_count() or 1))
    return (f"  CPU per batch: server {d['server'] / batches * 1000:.0f} ms, PostgreSQL {d['postgres'] / batches * 1000:.0f}"
            f" ms, senders {d['senders'] / batches * 1000:.0f} ms; all cores {busy:.0%} busy")


def with_content(events: list[dict]) -> list[dict]:
    """The events carrying content as an app with capture on sends it: the same system instructions each time, a
    ~300-character user message that differs per event and holds an e-mail address, a phone number, a date and
    order numbers, and an answer (as bench/requests_bench.py's content_of)."""
    for i, ev in enumerate(events):
        ev["content"] = {
            "system": "You are the support assistant of Example Ltd. Answer politely, cite the policy id, never "
                      "promise refunds over 500 EUR, and hand over to a person when the customer asks for one.",
            "input": [{"role": "user", "content": f"Hello, I need a refund for order {100_000 + i * 7}: the parcel "
                       f"arrived broken on 2026-11-{i % 28 + 1:02d}. Write to me at customer{i}@example.com or "
                       f"call +44 20 7946 {i % 10_000:04d}. Ticket {i * 13} was opened last week and nobody "
                       f"answered, which is the third time this year."}],
            "output": [{"role": "assistant", "content": f"Sorry about order {100_000 + i * 7}. Refunds take 5 "
                        f"working days; see policy R-{i % 9}. Your case number is {i * 31}."}]}
    return events


def bench_events(srv: Takeoff, n: int, batch: int, clients: int, order: str = "stream") -> float:
    """Events/s through POST /api/v1/events with `clients` concurrent senders (each acked after commit, and
    queryable then: reads add the rollup deltas not yet compacted). Prints the CPU split of the timed part.
    order "capture": the stream shape with content, the use case's capture policy on (redaction, content rows and
    the text search index written with the events)."""
    use_case = f"bench-{uuid.uuid4().hex[:6]}"
    capture = order == "capture"
    events = make_events(n, use_case, "stream" if capture else order)
    if capture:
        events = with_content(events)
    # bodies are encoded before the clock starts: the senders stand for apps on other machines, so their JSON
    # encoding is not the server's cost (it would take a third of this 2-core machine's CPU otherwise)
    batches = [json.dumps({"events": events[i:i + batch]}).encode() for i in range(0, n, batch)]
    with httpx.Client(base_url=srv.base, headers=srv.headers, timeout=120) as http:  # warm-up + discovery
        http.post("/api/v1/events", json={"events": make_events(10, use_case)}).raise_for_status()
        if capture:
            http.put(f"/api/v1/capture-policies/{use_case}", json={"capture": True}).raise_for_status()
    lock = threading.Lock()
    todo = list(batches)

    def sender() -> None:
        with httpx.Client(base_url=srv.base, headers=srv.headers, timeout=120) as http:
            while True:
                with lock:
                    if not todo:
                        return
                    b = todo.pop()
                r = http.post("/api/v1/events", content=b, headers={"content-type": "application/json"})
                if r.status_code != 200:
                    raise RuntimeError(r.text[:300])

    before = cpu_snapshot(srv)
    t0 = time.perf_counter()
    threads = [threading.Thread(target=sender) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    rate = n / (time.perf_counter() - t0)
    print(cpu_line(before, cpu_snapshot(srv), len(batches)), flush=True)
    return rate


def make_span_bodies(n: int, per_body: int, service: str) -> list[bytes]:
    """Protobuf ExportTraceServiceRequest bodies holding n GenAI chat spans."""
    bodies = []
    now = time.time_ns()
    for start in range(0, n, per_body):
        req = ExportTraceServiceRequest()
        rs = req.resource_spans.add()
        kv = rs.resource.attributes.add()
        kv.key, kv.value.string_value = "service.name", service
        ss = rs.scope_spans.add()
        ss.scope.name = "bench"
        for i in range(start, min(n, start + per_body)):
            sp = ss.spans.add()
            sp.trace_id = uuid.uuid4().bytes
            sp.span_id = uuid.uuid4().bytes[:8]
            sp.name = "chat gpt-4o"
            sp.kind = 3
            sp.start_time_unix_nano = now - 400_000_000 - i * 1000
            sp.end_time_unix_nano = now - i * 1000
            for k, v in (("gen_ai.provider.name", "openai"), ("gen_ai.operation.name", "chat"),
                         ("gen_ai.request.model", "gpt-4o"), ("gen_ai.response.model", "gpt-4o-2024-08-06"),
                         ("gen_ai.input.messages", "[{\"role\":\"user\",\"parts\":[{\"type\":\"text\",\"content\":\"" + "x" * 600 + "\"}]}]")):
                a = sp.attributes.add()
                a.key, a.value.string_value = k, v
            for k, v in (("gen_ai.usage.input_tokens", 700 + i % 50), ("gen_ai.usage.output_tokens", 90)):
                a = sp.attributes.add()
                a.key, a.value.int_value = k, v
        bodies.append(req.SerializeToString())
    return bodies


def post_bodies(base: str, headers: dict, bodies: list[bytes], senders: int = 1) -> None:
    """POST the exports from `senders` threads (each an app's exporter: one export at a time, as the OTel SDK's
    batch processor sends), the bodies dealt round-robin."""
    errors: list[str] = []

    def send(mine: list[bytes]) -> None:
        with httpx.Client(base_url=base, headers={**headers, "Content-Type": "application/x-protobuf"},
                          timeout=300) as h:
            for b in mine:
                r = h.post("/v1/traces", content=b)
                if r.status_code != 200:
                    errors.append(f"{r.status_code} {r.text[:300]}")
                    return

    threads = [threading.Thread(target=send, args=(bodies[i::senders],)) for i in range(senders)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise RuntimeError(errors[0])


WARM_SPANS = 5  # one export before the clock starts, under its own service name: a server in use is warm (the first
# request to a route builds FastAPI's route contexts, ~70 ms here); Phoenix gets the same


def warm_body(service: str) -> bytes:
    return make_span_bodies(WARM_SPANS, WARM_SPANS, f"{service}-warm-up")[0]


def bench_otlp_takeoff(srv: Takeoff, bodies: list[bytes], n: int, service: str, senders: int = 1) -> float:
    post_bodies(srv.base, srv.headers, [warm_body(service)])
    t0 = time.perf_counter()
    post_bodies(srv.base, srv.headers, bodies, senders)
    with httpx.Client(base_url=srv.base, headers=srv.headers, timeout=60) as h:
        while True:
            r = h.get("/api/v1/telemetry/window", params={"use_case": service, "from": time.time() - 7200})
            if r.json()["count"] >= n:
                break
            time.sleep(0.05)
    return n / (time.perf_counter() - t0)


def ensure_phoenix() -> Path | None:
    exe = PHOENIX_VENV / "bin" / "phoenix"
    if exe.exists():
        return exe
    print("  creating bench/.venv-phoenix (arize-phoenix==20.26.1) ...", flush=True)
    try:
        subprocess.run([sys.executable, "-m", "venv", str(PHOENIX_VENV)], check=True)
        subprocess.run([str(PHOENIX_VENV / "bin" / "pip"), "install", "-q", "arize-phoenix==20.26.1"], check=True)
    except subprocess.CalledProcessError as exc:
        print(f"  Phoenix install failed: {exc}")
        return None
    return exe if exe.exists() else None


def phoenix_count(base: str) -> int:
    q = "query { projects { edges { node { name recordCount } } } }"
    r = httpx.post(base + "/graphql", json={"query": q}, timeout=30)
    return sum(e["node"]["recordCount"] for e in r.json()["data"]["projects"]["edges"])


def bench_phoenix(bodies: list[bytes], n: int, timeout_s: float, senders: int = 1) -> tuple[float | None, str]:
    exe = ensure_phoenix()
    if exe is None:
        return None, "not installed"
    work = Path(tempfile.mkdtemp(prefix="phoenix-"))
    port, grpc = free_port(), free_port()
    env = {**os.environ, "PHOENIX_HOST": "127.0.0.1", "PHOENIX_PORT": str(port), "PHOENIX_GRPC_PORT": str(grpc),
           "PHOENIX_WORKING_DIR": str(work), "PHOENIX_TELEMETRY_ENABLED": "false", "DO_NOT_TRACK": "1"}
    proc = subprocess.Popen([str(exe), "serve"], env=env, stdout=(work / "log").open("wb"), stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        try:
            wait_http(base + "/healthz", timeout=300)
        except RuntimeError:
            tail = (work / "log").read_text(errors="replace")[-500:]
            return None, f"did not answer /healthz within 300 s; log tail: {tail!r}"
        post_bodies(base, {}, [warm_body("bench-otlp")])
        warm_until = time.perf_counter() + timeout_s
        while phoenix_count(base) < WARM_SPANS:
            if time.perf_counter() > warm_until:
                return None, f"the warm-up export was not queryable within {timeout_s:.0f} s"
            time.sleep(0.5)
        t0 = time.perf_counter()
        post_bodies(base, {}, bodies, senders)
        accepted = time.perf_counter() - t0
        while True:
            c = phoenix_count(base) - WARM_SPANS
            if c >= n:
                return n / (time.perf_counter() - t0), f"HTTP answered after {accepted:.1f} s"
            if time.perf_counter() - t0 > timeout_s:
                return c / (time.perf_counter() - t0), f"only {c}/{n} queryable after {timeout_s:.0f} s (rate so far)"
            time.sleep(0.5)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(work, ignore_errors=True)


def pg_database() -> tuple[str, callable]:
    name = f"bench_ingest_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return make_url(PG).set(database=name).render_as_string(hide_password=False), drop


@contextlib.contextmanager
def fresh_server(backend: str, workers: int) -> Iterator[Takeoff]:
    """A `takeoff serve` on a new empty database (a temporary SQLite file, or a new PostgreSQL database)."""
    work = Path(tempfile.mkdtemp(prefix=f"takeoff-bench-{backend}-"))
    drop = None
    if backend == "sqlite":
        url = f"sqlite:///{work / 'bench.db'}"
    else:
        url, drop = pg_database()
    srv = Takeoff(url, work, workers)
    try:
        yield srv
    finally:
        srv.stop()
        shutil.rmtree(work, ignore_errors=True)
        if drop:
            drop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=100_000)
    ap.add_argument("--batch", type=int, default=500)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--workers", type=int, default=2, help="takeoff serve processes (one per core)")
    ap.add_argument("--spans", type=int, default=10_000)
    ap.add_argument("--otlp-senders", type=int, default=1,
                    help="apps exporting OTLP at once (each one export at a time); the events stream uses --clients")
    ap.add_argument("--skip-phoenix", action="store_true")
    ap.add_argument("--skip-postgres", action="store_true")
    ap.add_argument("--skip-replay", action="store_true", help="skip the second run with replayed (out-of-order) events")
    ap.add_argument("--phoenix-timeout", type=float, default=300)
    ap.add_argument("--capture", action="store_true", help="also the stream shape with content and capture on")
    args = ap.parse_args()
    print(f"ingest bench: {args.events} events in batches of {args.batch}, {args.clients} client threads, "
          f"takeoff serve --workers {args.workers}; "
          f"{args.spans} OTLP spans from {args.otlp_senders} sender(s); {os.cpu_count()} cores", flush=True)
    backends = [("sqlite", None)] + ([] if args.skip_postgres else [("postgresql", PG)])
    service = "bench-otlp"
    bodies = make_span_bodies(args.spans, 500, service)
    print(f"  OTLP payload: {sum(map(len, bodies)) / 1e6:.1f} MB protobuf in {len(bodies)} requests", flush=True)
    results = {}
    for name, _ in backends:
        for order in ("stream",) + (() if args.skip_replay else ("replay",)) + (("capture",) if args.capture else ()):
            with fresh_server(name, args.workers) as srv:
                eps = bench_events(srv, args.events, args.batch, args.clients, order)
                if order == "capture":
                    print(f"takeoff {name:10s}: POST /api/v1/events {eps:10,.0f} events/s with content, capture on "
                          f"({eps / results[name][0]:.2f} of the stream figure above, same run)", flush=True)
                    continue
                if order == "replay":  # the adverse shape: every batch's entries land all over both indexes
                    print(f"takeoff {name:10s}: POST /api/v1/events {eps:10,.0f} events/s replayed out of order "
                          "(random ids, every batch over the same minute)", flush=True)
                    continue
                sps = bench_otlp_takeoff(srv, bodies, args.spans, service, args.otlp_senders)
                results[name] = (eps, sps)
                print(f"takeoff {name:10s}: POST /api/v1/events {eps:10,.0f} events/s (goal >= 20,000)   "
                      f"OTLP /v1/traces {sps:8,.0f} spans/s until queryable ({args.otlp_senders} sender(s))", flush=True)
    if args.skip_phoenix:
        print("Arize Phoenix          : skipped (--skip-phoenix)")
        return
    rate, note = bench_phoenix(bodies, args.spans, args.phoenix_timeout, args.otlp_senders)
    if rate is None:
        print(f"Arize Phoenix 20.26.1  : {note}")
    else:
        print(f"Arize Phoenix 20.26.1  : OTLP /v1/traces {rate:8,.0f} spans/s until queryable ({note})")
        for name, (_, sps) in results.items():
            print(f"  takeoff {name} / Phoenix: {sps / rate:.1f}x")


if __name__ == "__main__":
    main()

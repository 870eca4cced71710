"""Eval-run throughput against a local HTTP target with a fixed service time and a known capacity.

The target (a raw asyncio HTTP/1.1 keep-alive server in its own process) serves each request in SERVICE_MS with
at most C requests in service at once, so its capacity is C / service time. We measure:
  1. the target's own maximum, with a plain raw-socket load generator at concurrency C;
  2. run_eval over 2,000 cases with HttpTarget at the same concurrency (exact scorer, lazy case generator);
  3. peak RSS of the eval process at 2,000 and 20,000 cases (memory must stay flat in the number of cases).

Usage: .venv/bin/python bench/eval_throughput.py [--concurrency 20] [--service-ms 20] [--cases 2000]

Reading the figures: the eval client is bound by its CPU per request (printed as "client CPU ms/case"; HttpTarget
calls go through aiohttp, ~0.4 ms/case here, where httpx took 1.3); with the target at full capacity the client needs
concurrency/service_time * cpu_ms of one core. On a busy machine (load average printed) the ratio drops because the
client, not the target, waits for a CPU.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "src"))


# --- the target ----------------------------------------------------------------------------------------------


async def _serve(port: int, concurrency: int, service_s: float) -> None:
    slots = asyncio.Semaphore(concurrency)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                body = await reader.readexactly(length) if length else b"{}"
                async with slots:  # capacity: C requests in service at once
                    await asyncio.sleep(service_s)
                value = json.loads(body).get("input", "")
                out = json.dumps({"answer": value}).encode()
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                             + str(len(out)).encode() + b"\r\nConnection: keep-alive\r\n\r\n" + out)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=1024)
    print("ready", flush=True)
    async with server:
        await server.serve_forever()


# --- plain load generator --------------------------------------------------------------------------------------


async def _load(port: int, concurrency: int, total: int) -> float:
    remaining = total
    body = json.dumps({"input": "x"}).encode()
    request = (b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: "
               + str(len(body)).encode() + b"\r\n\r\n" + body)

    async def worker() -> None:
        nonlocal remaining
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        while remaining > 0:
            remaining -= 1
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(next(ln for ln in head.split(b"\r\n") if ln.lower().startswith(b"content-length:"))
                         .split(b":", 1)[1])
            await reader.readexactly(length)
        writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return total / (time.perf_counter() - started)


# --- the eval run ---------------------------------------------------------------------------------------------


async def _eval(port: int, concurrency: int, n_cases: int) -> dict[str, float]:
    from takeoff.evals.evalset_io import Case
    from takeoff.evals.runner import run_eval
    from takeoff.evals.scorers import make_scorer
    from takeoff.evals.targets import HttpTarget, RetryPolicy

    def cases():
        for i in range(n_cases):
            yield Case(f"c{i}", f"question {i}", f"question {i}", ("bench",))

    from takeoff.core import netguard

    netguard.configure(netguard.parse_allow("127.0.0.1"))  # the target is local: list loopback, as an operator would
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    target = HttpTarget(f"http://127.0.0.1:{port}/", body_template={"input": "{{input}}"}, response_path="answer",
                        timeout_s=10, retry=RetryPolicy(max_attempts=3), max_connections=concurrency)
    done = 0

    def on_result(_r) -> None:
        nonlocal done
        done += 1

    started, cpu_started = time.perf_counter(), time.process_time()
    summary = await run_eval(cases(), target, [make_scorer({"type": "exact"})], concurrency=concurrency,
                             total=n_cases, on_result=on_result)
    elapsed = time.perf_counter() - started
    cpu_ms = (time.process_time() - cpu_started) * 1000 / n_cases
    await target.aclose()
    return {"cases_per_s": n_cases / elapsed, "pass_rate": summary.pass_rate, "n": summary.n,
            "p95_ms": summary.latency_p95_ms or 0.0, "cpu_ms_per_case": cpu_ms, "rss_before_mb": rss_before,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "results": done}


def _child(argv: list[str]) -> dict:
    out = subprocess.run([sys.executable, __file__, *argv], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--concurrency", type=int, default=20)
    ap.add_argument("--service-ms", type=float, default=20.0)
    ap.add_argument("--cases", type=int, default=2000)
    ap.add_argument("--big", type=int, default=20000, help="case count for the memory-flatness run")
    ap.add_argument("--role", choices=["main", "server", "load", "eval"], default="main")
    ap.add_argument("--port", type=int, default=0)
    args = ap.parse_args()

    if args.role == "server":
        asyncio.run(_serve(args.port, args.concurrency, args.service_ms / 1000))
        return
    if args.role == "load":
        print(json.dumps({"cases_per_s": asyncio.run(_load(args.port, args.concurrency, args.cases))}))
        return
    if args.role == "eval":
        print(json.dumps(asyncio.run(_eval(args.port, args.concurrency, args.cases))))
        return

    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([sys.executable, __file__, "--role", "server", "--port", str(port),
                               "--concurrency", str(args.concurrency), "--service-ms", str(args.service_ms)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None and server.stdout.readline().strip() == "ready"
        common = ["--port", str(port), "--concurrency", str(args.concurrency)]
        capacity = args.concurrency / (args.service_ms / 1000)
        _child(["--role", "load", *common, "--cases", "200"])  # warm-up
        plain = _child(["--role", "load", *common, "--cases", str(args.cases)])["cases_per_s"]
        small = _child(["--role", "eval", *common, "--cases", str(args.cases)])
        big = _child(["--role", "eval", *common, "--cases", str(args.big)])
    finally:
        server.terminate()
        server.wait(timeout=5)

    print(f"target: service time {args.service_ms:g} ms, {args.concurrency} slots -> nominal capacity "
          f"{capacity:.0f} cases/s")
    print(f"plain load generator at concurrency {args.concurrency}: {plain:.0f} cases/s (the target's own maximum)")
    print(f"run_eval, {args.cases} cases, HttpTarget, concurrency {args.concurrency}: "
          f"{small['cases_per_s']:.0f} cases/s, pass rate {small['pass_rate']:.3f}, p95 {small['p95_ms']:.1f} ms, "
          f"client CPU {small['cpu_ms_per_case']:.2f} ms/case")
    print(f"ratio run_eval / target maximum: {small['cases_per_s'] / plain:.1%} "
          f"(vs nominal capacity: {small['cases_per_s'] / capacity:.1%}); goal >= 90%")
    print(f"run_eval, {args.big} cases: {big['cases_per_s']:.0f} cases/s, client CPU {big['cpu_ms_per_case']:.2f} ms/case")
    print(f"machine load average while measuring: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    print(f"peak RSS: {small['peak_rss_mb']:.1f} MB at {args.cases} cases, {big['peak_rss_mb']:.1f} MB at "
          f"{args.big} cases (after imports: {small['rss_before_mb']:.1f} / {big['rss_before_mb']:.1f} MB)")


if __name__ == "__main__":
    main()

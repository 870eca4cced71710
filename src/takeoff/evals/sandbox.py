"""In-process eval code (python targets, custom scorers): an operator allow-list, and a worker subprocess to run it.

Nothing is importable by name unless ``TAKEOFF_EVAL_PYTHON_MODULES`` lists it (empty by default): an entry is a
module (``myco.evals``: it and its submodules), a prefix ending in a dot (``myco.evals.``: submodules only) or an
exact callable (``myco.targets:answer``). Listed code runs in one child process per eval run (``python -m
takeoff.evals.sandbox``) whose environment has the server's secrets removed; a call past its timeout, or a child
that crashes, is a case error, never a server error. The child is not a security boundary against hostile code
(it runs as the server's user): the allow-list is; the child keeps secrets out of reach of ordinary code, and keeps
hangs and crashes out of the server.

This module imports only the standard library at top level, so the child starts in tens of milliseconds.
"""
from __future__ import annotations

import asyncio
import importlib
import importlib.util
import inspect
import itertools
import json
import os
import re
import subprocess
import sys
import threading
import weakref
from typing import Any

from takeoff.core.codeallow import SETTING, AllowList, parse_allow, parse_ref
from takeoff.core.policy import ProcessPolicy

# Environment variables the child never sees: takeoff's own settings and anything that looks like a credential.
_SECRET_ENV = re.compile(r"^TAKEOFF_|PASSWORD|PASSWD|SECRET|TOKEN|CREDENTIAL|_KEY$|^KEY$|APIKEY|DATABASE_URL|_DSN$",
                         re.IGNORECASE)
STUCK_LIMIT = 4  # calls past their timeout that a child may still be running before a fresh child replaces it
MAX_CRASHES = 10  # children that died in one run before calls fail at once instead of starting another
_IDS = itertools.count(1)


class SandboxError(Exception):
    """A call that failed in or with the child: kind is timeout, exception or crashed."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


# This process's allow-list: the app configures it; without an app, TAKEOFF_EVAL_PYTHON_MODULES from the environment.
POLICY: ProcessPolicy[AllowList] = ProcessPolicy("eval code", lambda s: parse_allow(s.eval_python_modules))
configure = POLICY.configure
active = POLICY.active


def check_allowed(ref: Any, allow: AllowList, what: str = "target") -> str:
    """The ref when it is well formed and listed; ValueError saying which setting would list it otherwise."""
    parse_ref(ref, what)
    if not allow.allows(ref):
        listed = ", ".join(allow.entries) or "nothing (the default)"
        raise ValueError(f"{what} '{ref}' is refused: in-process code must be listed in {SETTING} "
                         f"(it lists {listed}); use an http or openai target to evaluate a model")
    return ref


def child_env(environ: dict[str, str] | None = None) -> dict[str, str]:
    """The child's environment: the server's without takeoff settings or anything that looks like a secret."""
    env = {k: v for k, v in (os.environ if environ is None else environ).items() if not _SECRET_ENV.search(k)}
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)  # what the server can import, the child can
    env["PYTHONUNBUFFERED"] = "1"
    return env


# --- parent side ----------------------------------------------------------------------------------------------
class _Child:
    """One running child: a writer (any thread, locked) and a reader thread that resolves callers' futures."""

    def __init__(self, allow: AllowList, threads: int) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "takeoff.evals.sandbox"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, env=child_env(), close_fds=True)
        self.lock = threading.Lock()  # guards the call state below; writes have their own lock, so the reader
        self.write_lock = threading.Lock()  # never waits behind a write blocked on a full pipe
        self.pending: dict[int, tuple[asyncio.AbstractEventLoop, asyncio.Future[Any]]] = {}
        self.stuck: set[int] = set()
        self.retired = False
        self.dead = False
        self.send({"op": "init", "allow": allow.entries, "threads": threads})
        threading.Thread(target=self._read, daemon=True, name="takeoff-sandbox-reader").start()

    def send(self, msg: dict[str, Any]) -> None:
        data = json.dumps(msg, default=_json_default, ensure_ascii=False).encode() + b"\n"
        with self.write_lock:
            assert self.proc.stdin is not None
            self.proc.stdin.write(data)
            self.proc.stdin.flush()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            try:
                msg = json.loads(line)
            except ValueError:
                continue
            with self.lock:
                waiter = self.pending.pop(msg.get("id"), None)
                self.stuck.discard(msg.get("id"))
                idle = self.retired and not self.pending
            if waiter is not None:
                _resolve(waiter, msg)
            if idle:
                self.kill()
        code = self.proc.wait()
        with self.lock:
            self.dead = True
            waiters, self.pending = list(self.pending.values()), {}
        for waiter in waiters:
            _resolve(waiter, {"ok": False, "kind": "crashed",
                              "error": f"the python worker process exited (code {code})"})

    def kill(self) -> None:
        if self.proc.poll() is None:
            try:
                self.proc.kill()
            except OSError:
                pass


def _resolve(waiter: tuple[asyncio.AbstractEventLoop, asyncio.Future[Any]], msg: dict[str, Any]) -> None:
    loop, fut = waiter

    def settle() -> None:
        if not fut.done():
            fut.set_result(msg)

    try:
        loop.call_soon_threadsafe(settle)
    except RuntimeError:  # the caller's loop is gone (its run ended): nobody waits for this answer
        pass


def _json_default(value: Any) -> Any:
    if callable(getattr(value, "to_dict", None)):
        return value.to_dict()
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    return str(value)


def _kill_all(children: list[_Child]) -> None:
    for child in children:
        child.kill()


class Sandbox:
    """Runs listed callables in one child process, started on first use and replaced when it crashes or hangs.

    Thread- and loop-agnostic: any event loop may await ``call``; answers arrive on a reader thread.
    """

    def __init__(self, allow: AllowList | None = None, *, threads: int = 32) -> None:
        self.allow = allow if allow is not None else active()
        # a call past its timeout may hold a thread until the child is replaced: leave room for those
        self.threads = max(1, min(int(threads), 256)) + STUCK_LIMIT
        self.refs: dict[str, str] = {}
        self.crashes = 0
        self._child: _Child | None = None
        self._retired: list[_Child] = []
        self._started: list[_Child] = []
        self._lock = threading.Lock()
        # a sandbox dropped without close() still stops its children (their reader threads keep them referenced)
        weakref.finalize(self, _kill_all, self._started)

    def add(self, ref: Any, what: str = "target") -> str:
        """Register a ref this sandbox may call: well formed, listed, and its module findable (ValueError)."""
        check_allowed(ref, self.allow, what)
        module, _ = parse_ref(ref, what)
        try:  # imports the listed module's parent packages only; the module itself first runs in the child
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError) as exc:
            raise ValueError(f"{what} module {module!r} cannot be imported: {exc}") from None
        if not found:
            raise ValueError(f"{what} module {module!r} cannot be imported: no module named {module!r}")
        self.refs[ref] = what
        return ref

    def _current(self) -> _Child:
        with self._lock:
            child = self._child
            if child is not None and not child.dead and not child.retired:
                return child
            if child is not None and child.dead:
                self.crashes += 1
            if self.crashes >= MAX_CRASHES:
                raise SandboxError("crashed", f"the python worker process died {self.crashes} times; "
                                              "not starting another for this run")
            self._child = _Child(self.allow, self.threads)
            self._started[:] = [c for c in self._started if not c.dead] + [self._child]
            return self._child

    async def _ask(self, msg: dict[str, Any], timeout_s: float) -> dict[str, Any]:
        try:
            child = self._current()
        except OSError as exc:
            raise SandboxError("crashed", f"cannot start the python worker process: {exc}") from None
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[Any] = loop.create_future()
        call_id = next(_IDS)
        with child.lock:
            if child.dead:
                raise SandboxError("crashed", "the python worker process exited")
            child.pending[call_id] = (loop, fut)
        try:
            child.send({**msg, "id": call_id})
        except (OSError, ValueError):
            with child.lock:
                child.pending.pop(call_id, None)
            raise SandboxError("crashed", "the python worker process is gone") from None
        try:
            return await asyncio.wait_for(fut, timeout_s)
        except TimeoutError:
            with child.lock:
                if child.pending.pop(call_id, None) is not None:
                    child.stuck.add(call_id)
                if len(child.stuck) >= STUCK_LIMIT and not child.retired:
                    child.retired = True  # later calls go to a fresh child; this one dies when its calls end
                    self._retired.append(child)
                idle = child.retired and not child.pending
            if idle:
                child.kill()
            raise SandboxError("timeout", f"no answer within {timeout_s:g}s") from None

    async def load(self, timeout_s: float = 120.0) -> None:
        """Start the child and import every registered ref; ValueError with the first load error."""
        if not self.refs:
            return
        try:
            msg = await self._ask({"op": "load", "refs": list(self.refs)}, timeout_s)
        except SandboxError as exc:
            raise ValueError(f"python code could not be loaded: {exc}") from None
        if not msg.get("ok"):
            raise ValueError(str(msg.get("error")))

    async def call(self, ref: str, args: list[Any], timeout_s: float) -> Any:
        """Call a registered ref with args in the child; SandboxError on timeout, exception or crash."""
        if ref not in self.refs:
            raise SandboxError("exception", f"{ref} was not registered with this run's sandbox")
        msg = await self._ask({"op": "call", "ref": ref, "args": args}, timeout_s)
        if not msg.get("ok"):
            raise SandboxError(msg.get("kind") or "exception", str(msg.get("error")))
        return msg.get("result")

    def close(self) -> None:
        """Stop every child this sandbox started (their stuck calls end with them)."""
        with self._lock:
            children = [c for c in (self._child, *self._retired) if c is not None]
            self._child, self._retired = None, []
        for child in children:
            try:
                if child.proc.stdin is not None:
                    child.proc.stdin.close()
            except OSError:
                pass
            child.kill()
            try:
                child.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass

    async def aclose(self) -> None:
        self.close()


# --- child side -----------------------------------------------------------------------------------------------
def _child_main() -> None:
    """Serve calls from the parent: one JSON line in, one JSON line out, calls concurrent (threads, one loop)."""
    from concurrent.futures import ThreadPoolExecutor

    proto_in = os.fdopen(os.dup(0), "rb")
    proto_out = os.fdopen(os.dup(1), "wb")
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(2, 1)  # user code that prints goes to stderr, never into the protocol
    sys.stdout = sys.stderr
    write_lock = threading.Lock()

    def reply(msg: dict[str, Any]) -> None:
        try:
            data = json.dumps(msg, default=_json_default, ensure_ascii=False, allow_nan=False).encode()
        except ValueError as exc:
            data = json.dumps({"id": msg.get("id"), "ok": False, "kind": "exception",
                               "error": f"result is not JSON: {exc}"}).encode()
        with write_lock:
            proto_out.write(data + b"\n")
            proto_out.flush()

    init = json.loads(proto_in.readline() or b"{}")
    allow = parse_allow(init.get("allow") or [])
    pool = ThreadPoolExecutor(max_workers=int(init.get("threads") or 32), thread_name_prefix="call")
    loop = asyncio.new_event_loop()
    threading.Thread(target=loop.run_forever, daemon=True).start()
    cache: dict[str, Any] = {}

    def resolve(ref: str) -> Any:
        if ref in cache:
            return cache[ref]
        check_allowed(ref, allow)  # again here: the parent's check is not the only one
        module_name, func_name = parse_ref(ref)
        try:
            module = importlib.import_module(module_name)
        except Exception as exc:  # any import failure is reported, not fatal
            raise ValueError(f"module {module_name!r} cannot be imported: {type(exc).__name__}: {exc}") from None
        func = getattr(module, func_name, None)
        if not callable(func):
            raise ValueError(f"{ref!r}: module has no callable {func_name!r}")
        cache[ref] = func
        return func

    def args_of(ref: str, args: list[Any]) -> list[Any]:
        if len(args) == 3 and isinstance(args[2], dict) and args[2].get("__case__"):
            from takeoff.evals.evalset_io import Case

            c = args[2]
            return [args[0], args[1], Case(str(c["case_id"]), c.get("input"), c.get("expected"),
                                           tuple(c.get("tags") or ()), dict(c.get("metadata") or {}))]
        return args

    def run(call_id: Any, ref: str, func: Any, args: list[Any]) -> None:
        try:
            result = func(*args)
            if inspect.isawaitable(result):
                result = asyncio.run_coroutine_threadsafe(_awaited(result), loop).result()
            reply({"id": call_id, "ok": True, "result": result})
        except BaseException as exc:  # user code's failure is the case's error
            reply({"id": call_id, "ok": False, "kind": "exception",
                   "error": f"{ref} raised {type(exc).__name__}: {exc}"})

    for line in proto_in:
        try:
            msg = json.loads(line)
        except ValueError:
            continue
        call_id = msg.get("id")
        if msg.get("op") == "load":
            try:
                for ref in msg.get("refs") or []:
                    resolve(ref)
                reply({"id": call_id, "ok": True})
            except Exception as exc:
                reply({"id": call_id, "ok": False, "kind": "exception", "error": str(exc)})
            continue
        ref = str(msg.get("ref"))
        try:
            func = resolve(ref)
        except Exception as exc:
            reply({"id": call_id, "ok": False, "kind": "exception", "error": str(exc)})
            continue
        pool.submit(run, call_id, ref, func, args_of(ref, list(msg.get("args") or [])))
    os._exit(0)  # the parent closed the pipe: leave without waiting for calls still running


async def _awaited(value: Any) -> Any:
    return await value


if __name__ == "__main__":
    _child_main()

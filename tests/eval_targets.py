"""Small python eval targets and scorers for the suite, in a module that imports nothing heavy: eval runs call them
in a worker subprocess that imports this module (listed by the test settings' TAKEOFF_EVAL_PYTHON_MODULES)."""
from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import Any


def echo(inp: dict[str, Any]) -> str:
    """Returns the answer carried in the input."""
    return inp["answer"]


def garbage(inp: dict[str, Any]) -> Any:
    """Fails in the ways real targets do: raises, hangs past its timeout, answers in an unexpected shape."""
    if inp["answer"] == "a1":
        raise RuntimeError("upstream returned HTML")
    if inp["answer"] == "a2":
        time.sleep(0.5)
    if inp["answer"] == "a3":
        return {"unexpected": object.__name__}
    return inp["answer"]


def record(inp: dict[str, Any]) -> str:
    """Echo, and append the answer to the file the input names (so a test sees calls made in the child)."""
    with Path(inp["log"]).open("a") as f:
        f.write(inp["answer"] + "\n")
    return inp["answer"]


def env_keys(inp: Any) -> list[str]:
    """The names of the environment variables the target process sees."""
    return sorted(os.environ)


def sleepy(inp: Any) -> str:
    """Sleeps as long as the input says (seconds), then answers."""
    time.sleep(float(inp.get("sleep", 0)) if isinstance(inp, dict) else 0)
    return "awake"


async def async_echo(inp: dict[str, Any]) -> str:
    """An async target: awaited in the child's event loop."""
    await asyncio.sleep(0)
    return inp["answer"]


def crash(inp: Any) -> str:
    """Kills the process it runs in (a segfault stands for any crash)."""
    os._exit(3)


def is_upper(output: Any, expected: Any, case: Any) -> dict[str, Any]:
    """Custom scorer: passes when the output is upper case; reads the Case the child rebuilds."""
    return {"passed": str(output).isupper(), "detail": f"case {case.case_id} tags {list(case.tags)}"}


def crash_on(inp: dict[str, Any]) -> str:
    """Echo, except that the case whose input says so kills the process."""
    if inp.get("crash"):
        os._exit(3)
    return inp["answer"]


def noisy(inp: dict[str, Any]) -> str:
    """Echo after printing to stdout (which must not reach the parent's protocol)."""
    print("hello from the target", inp)
    return inp["answer"]


def sleepy_echo(inp: dict[str, Any]) -> str:
    """Echo after sleeping as long as the input says (seconds)."""
    time.sleep(float(inp.get("sleep", 0)))
    return inp["answer"]

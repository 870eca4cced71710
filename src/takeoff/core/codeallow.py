"""The operator's allow-list of in-process eval code (TAKEOFF_EVAL_PYTHON_MODULES): parsed here, beside the settings.

Pure and standard-library only: the settings validate it at startup, the eval sandbox applies it (takeoff.evals.sandbox).
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

SETTING = "TAKEOFF_EVAL_PYTHON_MODULES"
_DOTTED = r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*"
_REF = re.compile(rf"^({_DOTTED}):([A-Za-z_][A-Za-z0-9_]*)$")
_ENTRY = re.compile(rf"^{_DOTTED}(?:\.|:[A-Za-z_][A-Za-z0-9_]*)?$")

def parse_ref(ref: Any, what: str = "target") -> tuple[str, str]:
    """'pkg.mod:func' -> (module, function); ValueError for anything else."""
    m = _REF.match(ref) if isinstance(ref, str) else None
    if m is None:
        raise ValueError(f"{what} must be 'module:function', got {ref!r}")
    return m.group(1), m.group(2)


@dataclass(frozen=True)
class AllowList:
    """The operator's list of code eval runs may name: modules, module prefixes, exact callables."""

    modules: tuple[str, ...] = ()
    prefixes: tuple[str, ...] = ()
    callables: frozenset[str] = frozenset()

    @property
    def entries(self) -> list[str]:
        return [*self.modules, *self.prefixes, *sorted(self.callables)]

    def allows(self, ref: str) -> bool:
        """Whether 'module:function' is listed (by module, by prefix, or exactly)."""
        try:
            module, _ = parse_ref(ref)
        except ValueError:
            return False
        return (ref in self.callables or any(module.startswith(p) for p in self.prefixes)
                or any(module == m or module.startswith(m + ".") for m in self.modules))


def parse_allow(raw: str | Iterable[str] | None) -> AllowList:
    """Parse the comma list of TAKEOFF_EVAL_PYTHON_MODULES; ValueError names the first bad entry."""
    items = raw.split(",") if isinstance(raw, str) else list(raw or [])
    modules, prefixes, callables = [], [], set()
    for item in items:
        entry = item.strip()
        if not entry:
            continue
        if not _ENTRY.match(entry):
            raise ValueError(f"{SETTING}: {entry!r} is not a module ('myco.evals'), a prefix ('myco.evals.') "
                             "or a callable ('myco.targets:answer')")
        if ":" in entry:
            callables.add(entry)
        elif entry.endswith("."):
            prefixes.append(entry)
        else:
            modules.append(entry)
    return AllowList(tuple(modules), tuple(prefixes), frozenset(callables))

"""The import graph of src/takeoff in figures, for issue 17's closing note: domain edges (with grimp, the graph
import-linter checks), cycles between domains and between modules, upward/sideways edges against the floors,
string-addressed lookups, function-level imports, and the largest modules.

Usage: PYTHONPATH=src python scripts/import_graph.py   (point PYTHONPATH at another checkout to measure it)
"""
from __future__ import annotations

import ast
import pathlib
import re
import sys

import grimp

# The floors of src/takeoff/domains.py (and of the layers contract in pyproject.toml), lowest first.
FLOORS = [("audit",), ("auth", "jobs"), ("portfolio", "catalog"), ("governance",), ("evals",), ("releases",),
          ("telemetry",), ("monitoring", "incidents", "findings", "data", "requests"), ("outcomes",), ("readiness",),
          ("reports",)]
FLOOR = {d: i for i, fl in enumerate(FLOORS) for d in fl}
STRING_LOOKUP = re.compile(r"\bimportlib\b|\bpkgutil\b|\boptional\(\"|\bcapability\(\"|__import__\(")


def domain(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in FLOOR else None


def sccs(nodes: list[str], edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one node (Tarjan, iterative enough for ~300 modules)."""
    sys.setrecursionlimit(10000)
    idx: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        idx[v] = low[v] = len(idx)
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
            if w not in idx:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], idx[w])
        if low[v] == idx[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in nodes:
        if v not in idx:
            visit(v)
    return out


def main() -> None:
    graph = grimp.build_graph("takeoff")
    import takeoff

    src = pathlib.Path(takeoff.__file__).parent
    modules = sorted(m for m in graph.modules if not m.startswith("takeoff.migrations"))
    mod_edges = {m: {t for t in graph.find_modules_directly_imported_by(m) if t.startswith("takeoff.")}
                 for m in modules}
    dom_edges: dict[str, set[str]] = {}
    cross = 0
    for m, targets in mod_edges.items():
        a = domain(m)
        for t in targets:
            b = domain(t)
            if a and b and a != b:
                cross += 1
                dom_edges.setdefault(a, set()).add(b)
    up = sorted(f"{a}->{b}" for a, bs in dom_edges.items() for b in bs if FLOOR[b] >= FLOOR[a])
    print("domain edges (a -> the lower domains it imports):")
    for a in sorted(dom_edges, key=lambda d: (FLOOR[d], d)):
        print(f"  {a} -> {', '.join(sorted(dom_edges[a], key=lambda d: (FLOOR[d], d)))}")
    print(f"cross-domain module imports: {cross} (in {sum(len(v) for v in dom_edges.values())} domain edges)")
    print(f"upward/sideways domain edges: {len(up)} {up if up else ''}")
    print(f"domain cycles: {sccs(sorted(dom_edges), dom_edges) or 'none'}")
    cycles = sccs(modules, mod_edges)
    print(f"module cycles: {len(cycles)} (largest {max((len(c) for c in cycles), default=0)} modules)")
    for c in cycles:
        print("  ", " ".join(c) if len(c) < 8 else f"{len(c)} modules: {' '.join(c[:8])} ...")
    strings = fn_level = fn_root = 0
    root = ("takeoff/app.py", "takeoff/cli.py", "takeoff/wiring.py", "takeoff/flows_registry.py",
            "takeoff/background_defaults.py", "takeoff/health.py", "takeoff/migrate.py", "takeoff/demo/")
    sizes = []
    for path in sorted(src.rglob("*.py")):
        rel = path.relative_to(src.parent).as_posix()
        if "/migrations/" in rel:
            continue
        text = path.read_text()
        sizes.append((text.count("\n"), rel))
        strings += sum(1 for line in text.splitlines() if STRING_LOOKUP.search(line)) if not rel.endswith(
            "evals/sandbox.py") else 0
        tree = ast.parse(text)
        for fn in ast.walk(tree):
            if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                found = sum(1 for n in ast.walk(fn) if isinstance(n, ast.ImportFrom) and n.level == 0
                            and (n.module or "").startswith("takeoff"))
                if rel.startswith(root):
                    fn_root += found
                else:
                    fn_level += found
    print(f"string-addressed lookups (importlib, pkgutil, optional/capability by name; the eval sandbox aside): "
          f"{strings}")
    print(f"function-level `from takeoff...` imports: {fn_level} in domains and core, {fn_root} in the composition "
          "root and the demo (lazy loading on purpose)")
    print(f"modules: {len(sizes)}, over 400 lines: {sum(1 for n, _ in sizes if n > 400)}; largest 10:")
    for n, rel in sorted(sizes, reverse=True)[:10]:
        print(f"  {n:5d} {rel}")


if __name__ == "__main__":
    main()

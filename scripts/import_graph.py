"""Domain import graph over src/takeoff with ast: string-addressed lookups, function-level imports, cycles (SCCs).

Usage: python scripts/import_graph.py [src/takeoff]
"""
import ast, pathlib, re, sys
ROOT = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "src/takeoff")
DOMAINS = ("auth", "audit", "jobs", "portfolio", "governance", "catalog", "evals", "releases", "telemetry",
           "monitoring", "incidents", "findings", "data", "outcomes", "readiness", "reports")
def dom(mod):
    p = mod.split(".")
    return p[1] if len(p) > 1 and p[0] == "takeoff" and p[1] in DOMAINS else None
edges = {}; fn_imports = 0; strings = 0; fn_cross = 0
for f in ROOT.rglob("*.py"):
    rel = f.relative_to(ROOT.parent).with_suffix("")
    me = dom(".".join(rel.parts))
    tree = ast.parse(f.read_text())
    parents = {}
    for node in ast.walk(tree):
        for ch in ast.iter_child_nodes(node): parents[ch] = node
    for node in ast.walk(tree):
        targets = []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            targets = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant) \
                and isinstance(node.args[0].value, str) and re.match(r"takeoff\.[a-z_]+", node.args[0].value):
            name = getattr(node.func, "id", getattr(node.func, "attr", ""))
            if name in ("optional", "_optional", "capability", "import_module", "find_spec"):
                strings += 1; targets = [node.args[0].value]
        if not targets: continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            p = parents.get(node); infn = False
            while p is not None:
                if isinstance(p, (ast.FunctionDef, ast.AsyncFunctionDef)): infn = True; break
                p = parents.get(p)
            if infn and any(t.startswith("takeoff") for t in targets):
                fn_imports += 1
                if me and any(dom(t) and dom(t) != me for t in targets): fn_cross += 1
        for t in targets:
            d = dom(t)
            if me and d and d != me: edges.setdefault(me, set()).add(d)
# strongly connected components (Tarjan)
idx = {}; low = {}; st = []; on = set(); sccs = []; c = [0]
def sc(v):
    idx[v] = low[v] = c[0]; c[0] += 1; st.append(v); on.add(v)
    for w in edges.get(v, ()):
        if w not in idx: sc(w); low[v] = min(low[v], low[w])
        elif w in on: low[v] = min(low[v], idx[w])
    if low[v] == idx[v]:
        comp = []
        while True:
            w = st.pop(); on.discard(w); comp.append(w)
            if w == v: break
        if len(comp) > 1: sccs.append(sorted(comp))
for v in DOMAINS:
    if v not in idx: sc(v)
# the floors of src/takeoff/domains.py (and of the layers contract in pyproject.toml), lowest first
floor = {d: i for i, fl in enumerate([("audit",),("auth","jobs"),("portfolio","catalog"),("governance",),("evals",),
         ("releases",),("telemetry",),("monitoring","incidents","findings","data"),("outcomes",),("readiness",),
         ("reports",)]) for d in fl}
up = sorted(f"{a}->{b}" for a, bs in edges.items() for b in bs if floor[b] >= floor[a])
for a in sorted(edges): print(" ", a, "->", sorted(edges[a]))
print(f"string lookups: {strings}\nfunction-level takeoff imports: {fn_imports} (cross-domain: {fn_cross})")
print(f"cycles (SCCs): {sccs}\nupward/sideways edges: {up}")

"""The domain folders in floor order; each may provide models.py, api.py, web.py and jobs.py."""
DOMAINS = ("auth", "audit", "jobs", "portfolio", "governance", "catalog", "evals", "releases", "telemetry",
           "monitoring", "incidents", "findings", "data", "outcomes", "readiness", "reports")


def optional(module: str, attr: str | None = None):
    """A domain module (or one of its attributes) when this build has it, else None.

    Imported lazily, so domains on the same floor can read each other (monitoring ↔ incidents ↔ releases) without
    import cycles, and a capability that is absent reads as "no evidence" instead of failing.
    """
    import importlib
    import importlib.util

    try:
        if importlib.util.find_spec(module) is None:
            return None
    except ModuleNotFoundError:
        return None
    mod = importlib.import_module(module)
    return mod if attr is None else getattr(mod, attr, None)

"""The domain folders in floor order; each may provide models.py, api.py, web.py and jobs.py."""
DOMAINS = ("auth", "audit", "jobs", "portfolio", "governance", "catalog", "evals", "releases", "telemetry",
           "monitoring", "incidents", "data", "outcomes", "readiness", "reports")

"""The domain folders; each may provide models.py, api.py, web.py, jobs.py and flows.py.

Floors, lower first: audit < auth/jobs < portfolio/catalog < governance < evals < releases < telemetry <
monitoring/incidents/findings/data/requests < review/quality < outcomes < readiness < reports. A domain imports a
lower domain's service directly; it reacts to a same-floor or higher domain only through takeoff.core.events (handlers in
<domain>/flows.py, capabilities a higher floor provides). The layers contract in pyproject.toml enforces the order.
"""
DOMAINS = ("auth", "audit", "jobs", "portfolio", "governance", "catalog", "evals", "releases", "telemetry",
           "monitoring", "requests", "incidents", "findings", "data", "review", "quality", "outcomes", "readiness", "reports")

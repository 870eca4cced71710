"""The composition root's explicit list of what each domain plugs in: its API router, its page router and its job
handlers, in the floor order of takeoff.domains (no lookup by name: a new domain's modules get one line here, and
tests/foundation/test_flows_and_events.py fails when a domain's api.py, web.py or jobs.py is missing from it).

Functions, not module-level lists, so that importing the composition root stays cheap and free of cycles.
"""
from __future__ import annotations

from fastapi import APIRouter


def api_routers() -> list[APIRouter]:
    """Every domain's `/api/v1` router, in floor order."""
    from takeoff.audit import api as audit
    from takeoff.auth import api as auth
    from takeoff.catalog import api as catalog
    from takeoff.data import api as data
    from takeoff.evals import api as evals
    from takeoff.findings import api as findings
    from takeoff.governance import api as governance
    from takeoff.incidents import api as incidents
    from takeoff.jobs import api as jobs
    from takeoff.monitoring import api as monitoring
    from takeoff.outcomes import api as outcomes
    from takeoff.portfolio import api as portfolio
    from takeoff.quality import api as quality
    from takeoff.readiness import api as readiness
    from takeoff.releases import api as releases
    from takeoff.reports import api as reports
    from takeoff.requests import api as requests
    from takeoff.review import api as review
    from takeoff.telemetry import api as telemetry

    return [m.router for m in (auth, audit, jobs, portfolio, governance, catalog, evals, releases, telemetry,
                               monitoring, requests, incidents, findings, data, review, quality, outcomes, readiness,
                               reports)]


def page_routers() -> list[APIRouter]:
    """Every domain's web page router, in floor order (the shared pages come first, from takeoff.web.pages)."""
    from takeoff.auth import web as auth
    from takeoff.catalog import web as catalog
    from takeoff.data import web as data
    from takeoff.evals import web as evals
    from takeoff.findings import web as findings
    from takeoff.governance import web as governance
    from takeoff.incidents import web as incidents
    from takeoff.monitoring import web as monitoring
    from takeoff.outcomes import web as outcomes
    from takeoff.portfolio import web as portfolio
    from takeoff.quality import web as quality
    from takeoff.readiness import web as readiness
    from takeoff.releases import web as releases
    from takeoff.reports import web as reports
    from takeoff.requests import web as requests
    from takeoff.review import web as review
    from takeoff.telemetry import web as telemetry

    # portfolio last: its /usecases/{key}/{section} page would otherwise answer another domain's
    # /usecases/{key}/<word> page (quality's /usecases/{key}/evaluators) with "no such section"
    return [m.router for m in (auth, governance, catalog, evals, releases, telemetry, monitoring, requests, incidents,
                               findings, data, review, quality, outcomes, readiness, reports, portfolio)]


def load_job_handlers() -> None:
    """Import every domain's jobs.py: each registers its job handlers with takeoff.jobs.registry on import."""
    from takeoff.data import jobs as data_jobs  # noqa: F401
    from takeoff.evals import jobs as evals_jobs  # noqa: F401
    from takeoff.monitoring import jobs as monitoring_jobs  # noqa: F401
    from takeoff.outcomes import jobs as outcomes_jobs  # noqa: F401
    from takeoff.quality import jobs as quality_jobs  # noqa: F401
    from takeoff.review import jobs as review_jobs  # noqa: F401
    from takeoff.telemetry import jobs as telemetry_jobs  # noqa: F401

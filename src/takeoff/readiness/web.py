"""Readiness pages: the diagnostic across the portfolio, one use case's diagnostic, and the use-case page section."""
from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response
from markupsafe import Markup

from takeoff.readiness import checks, service
from takeoff.readiness.charts import summary_chart
from takeoff.web.render import PageFor

router = APIRouter(include_in_schema=False)
LABELS = {"pass": "pass", "fail": "fail", "no_evidence": "no evidence"}


@router.get("/readiness")
def readiness_page(page: PageFor("read")) -> Response:
    """Every use case × the seven items, with the verdict; each cell links to its reason."""
    view = service.portfolio_view(page.session)
    chart = Markup(summary_chart(view["use_cases"])) if view["use_cases"] else None
    return page.render("readiness/portfolio.html", view=view, labels=LABELS, gaps=checks.GAPS, chart=chart)


@router.get("/readiness/fragment/usecase/{key}")
def readiness_fragment(key: str, page: PageFor("read")) -> Response:
    """htmx fragment on the use-case page: the seven items with reasons, evidence links and the verdict."""
    return page.render("readiness/fragment.html", d=service.diagnose(page.session, key), labels=LABELS)


@router.get("/readiness/{key}")
def readiness_usecase(key: str, page: PageFor("read")) -> Response:
    """One use case's diagnostic as a page."""
    return page.render("readiness/usecase.html", d=service.diagnose(page.session, key), labels=LABELS)

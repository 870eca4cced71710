"""Online evaluation pages: a use case's evaluators (counters of today, budget left, whether each stopped, recent
scores with links to their requests), its use-case page section, and the online results on a request's page."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form
from fastapi.responses import RedirectResponse, Response

from takeoff.core.types import Id
from takeoff.portfolio import service as portfolio
from takeoff.quality import service
from takeoff.quality.schemas import EvaluatorPatch
from takeoff.web.render import PageFor

router = APIRouter(include_in_schema=False)


@router.get("/usecases/{key}/evaluators")
def evaluators_page(key: str, page: PageFor("read")) -> Response:
    """A use case's online evaluators with today's counters and each one's latest results."""
    uc = portfolio.get(page.session, key)
    rows = [{**service.view(page.session, ev), "recent": service.recent(page.session, ev, 10)}
            for ev in service.for_use_case(page.session, uc.key)]
    return page.render("quality/evaluators.html", uc=uc, evaluators=rows, can_write=page.actor.can("monitor.write"))


@router.post("/usecases/{key}/evaluators/{evaluator_id}/enabled")
def set_enabled(key: str, evaluator_id: Id, page: PageFor("monitor.write"),
                csrf_token: Annotated[str, Form()] = "", enabled: Annotated[str, Form()] = "") -> Response:
    """Pause or resume an evaluator from its page (audited like the API's PATCH)."""
    page.check_csrf(csrf_token)
    ev = service.get(page.session, evaluator_id)
    portfolio.get(page.session, key)
    service.update(page.session, page.actor, ev.id, EvaluatorPatch(enabled=enabled == "true"))
    return RedirectResponse(f"/usecases/{ev.use_case}/evaluators", status_code=303)


@router.get("/quality/fragment/usecase/{key}")
def usecase_fragment(key: str, page: PageFor("read")) -> Response:
    """The use-case page's section: each evaluator's state and today's counters."""
    uc = portfolio.get(page.session, key)
    rows = [service.view(page.session, ev) for ev in service.for_use_case(page.session, uc.key)]
    return page.render("quality/usecase_fragment.html", uc=uc, evaluators=rows)


@router.get("/quality/fragment/request/{request_id}")
def request_fragment(request_id: str, page: PageFor("read")) -> Response:
    """The request page's section: what each online evaluator made of this request."""
    return page.render("quality/request_fragment.html", results=service.for_request(page.session, request_id[:128]))

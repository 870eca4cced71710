"""Catalog page: approved models with prices (and their history), tiers, limits and vendor terms."""
from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

from takeoff.catalog import service
from takeoff.web.render import PageFor

router = APIRouter(include_in_schema=False)


@router.get("/catalog", response_class=HTMLResponse)
def catalog_page(page: PageFor("read")) -> Response:
    """Every approved model with its price history."""
    models = [service.model_view(page.session, m, with_history=True) for m in service.list_models(page.session)]
    return page.render("catalog/list.html", models=models)

"""Catalog HTTP API: list, upsert, read a model with its price history, add an effective-dated price."""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from takeoff.catalog import service, snapshot
from takeoff.catalog.schemas import ModelIn, PriceIn
from takeoff.deps import DB, Allowed, Decides

router = APIRouter(tags=["catalog"])


@router.get("/catalog/models")
def list_models(session: DB, actor: Allowed("read")) -> dict[str, Any]:
    """Every approved model with its current price."""
    return {"items": [service.model_view(session, m) for m in service.list_models(session)]}


@router.post("/catalog/models", status_code=201)
def upsert_model(body: ModelIn, session: DB, actor: Decides("approve_tools")) -> dict[str, Any]:
    """Create or update a catalog entry (a price in the body is added, effective from its date)."""
    entry = service.upsert_model(session, actor, body)
    return service.model_view(session, entry, with_history=True)


@router.get("/catalog/models/{provider}/{model:path}")
def get_model(provider: str, model: str, session: DB, actor: Allowed("read")) -> dict[str, Any]:
    """One entry with its whole price history."""
    return service.model_view(session, service.get_model(session, f"{provider}/{model}"), with_history=True)


@router.post("/catalog/prices/{provider}/{model:path}", status_code=201)
def add_price(provider: str, model: str, body: PriceIn, session: DB, actor: Allowed("catalog.write")) -> dict[str, Any]:
    """Add a price effective from a date; earlier costs keep their earlier price."""
    entry = service.get_model(session, f"{provider}/{model}")
    service.add_price(session, actor, entry, body)
    return service.model_view(session, entry, with_history=True)


@router.post("/catalog/import-defaults")
def import_defaults(session: DB, actor: Allowed("catalog.write")) -> dict[str, Any]:
    """Import the price snapshot shipped with this version (dated; never fetched from the network): missing models
    are added approved for no tier, models without a price get the snapshot's, operators' prices are kept."""
    return snapshot.import_defaults(session, actor)

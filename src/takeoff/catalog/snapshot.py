"""The shipped, dated price snapshot (price_snapshot.json, in the package; never fetched at run time) and its import
into the catalog: missing models are added unapproved, and a model without any price gets the snapshot's price,
effective from the snapshot's date and marked with it, so every page that shows it can say how old it is."""
from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from takeoff.catalog import pricing, service
from takeoff.catalog.models import ModelPrice
from takeoff.catalog.schemas import ModelIn, PriceIn
from takeoff.core.actor import Actor

SNAPSHOT_FILE = Path(__file__).with_name("price_snapshot.json")


def load(path: Path = SNAPSHOT_FILE) -> dict[str, Any]:
    """The snapshot file, checked: an as_of date, a notice, and every model a valid catalog entry with a price."""
    data = json.loads(path.read_text(encoding="utf-8"))
    datetime.strptime(data["as_of"], "%Y-%m-%d")
    if not data.get("notice") or not data.get("models"):
        raise ValueError(f"{path.name} needs a notice and models")
    for m in data["models"]:
        _entry(m)
    return data


def source_label(as_of: str) -> str:
    """How a price from the snapshot is marked (and shown)."""
    return f"{pricing.SNAPSHOT_SOURCE}{as_of}"


def _entry(m: dict[str, Any]) -> tuple[ModelIn, PriceIn]:
    prices = {k: m[k] for k in ("input", "output", "cache_read", "cache_write", "reasoning") if k in m}
    entry = ModelIn(provider=m["provider"], model=m["model"], endpoint_kind=m.get("endpoint_kind", "other"),
                    context_limit=m.get("context_limit"))
    return entry, PriceIn(**prices)


def import_defaults(session: Session, actor: Actor) -> dict[str, Any]:
    """Import the snapshot: add missing models (approved for no tier), price the models that have no price yet;
    an operator's own prices are never replaced. Idempotent; audited through the catalog service."""
    data = load()
    as_of = data["as_of"]
    effective = datetime.strptime(as_of, "%Y-%m-%d").replace(tzinfo=UTC)
    added: list[str] = []
    priced: list[str] = []
    kept: list[str] = []
    for m in data["models"]:
        body, price = _entry(m)
        ref = f"{body.provider}/{body.model}"
        entry = service.find_model(session, body.provider, body.model)
        if entry is None:
            entry = service.upsert_model(session, actor, body)
            added.append(ref)
        has_price = session.scalar(select(ModelPrice.id).where(ModelPrice.model_id == entry.id).limit(1))
        if has_price is not None:
            kept.append(ref)
            continue
        row = service.add_price(session, actor, entry, price.model_copy(update={"effective_from": effective}))
        row.source = source_label(as_of)
        priced.append(ref)
    return {"as_of": as_of, "notice": data["notice"], "sources": data.get("sources", {}), "added": added,
            "priced": priced, "kept": kept}

"""Catalog operations: the only writer of catalog tables; prices are effective-dated and never rewritten."""
from __future__ import annotations

from datetime import datetime
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from takeoff.core.actor import Actor
from takeoff.audit import service as audit
from takeoff.catalog import pricing
from takeoff.catalog.models import CatalogModel, ModelPrice
from takeoff.catalog.schemas import ModelIn, PriceIn
from takeoff.core.db import utcnow
from takeoff.core.errors import Conflict, Invalid, NotFound


def split_ref(ref: str) -> tuple[str | None, str]:
    """'provider/model' → (provider, model); a bare model id → (None, model)."""
    if not isinstance(ref, str) or not ref.strip():
        raise ValueError("a model reference must be 'provider/model' or a model id")
    ref = ref.strip()
    if "/" in ref:
        provider, _, model = ref.partition("/")
        if provider and model:
            return provider, model
    return None, ref


def find_model(session: Session, provider: str | None, model: str) -> CatalogModel | None:
    """The catalog entry for (provider, model); without a provider, the first entry of that model id."""
    q = select(CatalogModel).where(CatalogModel.model == model)
    if provider:
        q = q.where(CatalogModel.provider == provider)
    return session.scalars(q.order_by(CatalogModel.id).limit(1)).first()


def resolve_model(session: Session, provider: str | None, model: str) -> CatalogModel | None:
    """The entry a reported model id is priced as (pricing.resolve_model_id: exact id, else the id without its
    snapshot suffix, e.g. gpt-4o-2024-08-06 → gpt-4o); only that provider's entries when a provider is given."""
    candidates = pricing.model_id_candidates(model)
    q = select(CatalogModel).where(CatalogModel.model.in_(candidates))
    if provider:
        q = q.where(CatalogModel.provider == provider)
    by_id: dict[str, CatalogModel] = {}
    for e in session.scalars(q.order_by(CatalogModel.id)):
        by_id.setdefault(e.model, e)  # the first entry of an id, as find_model
    chosen = pricing.resolve_model_id(model, by_id)
    return by_id.get(chosen) if chosen is not None else None


def get_model(session: Session, ref: str) -> CatalogModel:
    """The entry for 'provider/model' (or a bare model id), else 404."""
    provider, model = split_ref(ref)
    found = find_model(session, provider, model)
    if found is None:
        raise NotFound(f"model '{ref}' is not in the catalog")
    return found


def list_models(session: Session) -> list[CatalogModel]:
    """Every catalog entry by provider and model."""
    return list(session.scalars(select(CatalogModel).order_by(CatalogModel.provider, CatalogModel.model)))


def prices_of(session: Session, entry: CatalogModel) -> list[ModelPrice]:
    """The price history of an entry, newest first."""
    return list(session.scalars(select(ModelPrice).where(ModelPrice.model_id == entry.id)
                                .order_by(ModelPrice.effective_from.desc())))


def _price_dict(p: ModelPrice) -> dict[str, float]:
    out = {"input": p.input, "output": p.output}
    for k in ("cache_read", "cache_write", "reasoning"):
        v = getattr(p, k)
        out[k] = v if v is not None else (p.input if k.startswith("cache") else p.output)
    return out


def price_schedule(session: Session, provider: str | None, model: str) -> list[tuple[datetime, dict[str, float]]]:
    """Every (effective_from, price) of the entry `model` resolves to (resolve_model), oldest first; empty when no
    entry matches. One query prices any number of events of that model at their own times (price_in_force)."""
    if not isinstance(model, str) or not model:
        raise ValueError("model must be a non-empty string")
    entry = resolve_model(session, provider, model)
    return [] if entry is None else _schedule_of(session, entry)


def _schedule_of(session: Session, entry: CatalogModel) -> list[tuple[datetime, dict[str, float]]]:
    """An entry's (effective_from, price) list, oldest first."""
    rows = session.scalars(select(ModelPrice).where(ModelPrice.model_id == entry.id)
                           .order_by(ModelPrice.effective_from))
    return [(p.effective_from, _price_dict(p)) for p in rows]


def price_in_force(schedule: list[tuple[datetime, dict[str, float]]], at: datetime) -> dict[str, float] | None:
    """The price of a price_schedule in force at `at` (see catalog.pricing.price_in_force)."""
    if not isinstance(at, datetime) or at.tzinfo is None:
        raise ValueError("at must be a timezone-aware datetime")
    return pricing.price_in_force(schedule, at)


def price_for(session: Session, provider: str | None, model: str, at: datetime) -> dict[str, float] | None:
    """USD per 1M tokens per usage type in force at `at` for the entry `model` resolves to (resolve_model), or None
    when no entry matches or it has no price yet at `at` (never a less specific entry's price)."""
    return price_in_force(price_schedule(session, provider, model), at)  # both check their arguments


def cost_usd(prices: dict[str, Any], tokens: dict[str, Any]) -> float:
    """USD cost of token counts at per-1M prices (see catalog.pricing.cost_usd)."""
    return pricing.cost_usd(prices, tokens)


def current_price(session: Session, entry: CatalogModel) -> dict[str, float] | None:
    """The entry's own price in force now (the entry is known: no id resolution)."""
    return pricing.price_in_force(_schedule_of(session, entry), utcnow())


def model_view(session: Session, entry: CatalogModel, with_history: bool = False) -> dict[str, Any]:
    """JSON form of an entry with its current price (and history on request)."""
    out: dict[str, Any] = {
        "ref": f"{entry.provider}/{entry.model}", "provider": entry.provider, "model": entry.model,
        "endpoint_kind": entry.endpoint_kind, "context_limit": entry.context_limit, "rate_limits": entry.rate_limits,
        "data_retention": entry.data_retention, "residency": entry.residency, "contract_terms": entry.contract_terms,
        "approved_tiers": entry.approved_tiers, "fallback_model": entry.fallback_model, "notes": entry.notes,
        "price": current_price(session, entry), "price_source": price_source(session, entry),
        "updated_at": entry.updated_at.isoformat(),
    }
    if with_history:
        out["prices"] = [{"effective_from": p.effective_from.isoformat(), **_price_dict(p),
                          "source": p.source or None} for p in prices_of(session, entry)]
    return out


def price_source(session: Session, entry: CatalogModel, at: datetime | None = None) -> str | None:
    """Where the price in force came from: None when an operator entered it, "snapshot <date>" when it is the
    shipped price snapshot's (pages show that date beside the price and the costs it makes)."""
    row = session.scalar(select(ModelPrice).where(ModelPrice.model_id == entry.id,
                                                  ModelPrice.effective_from <= (at or utcnow()))
                         .order_by(ModelPrice.effective_from.desc()).limit(1))
    return (row.source or None) if row is not None else None


def snapshot_dates(session: Session, model_keys: Iterable[str], start: datetime | None, end: datetime) -> list[str]:
    """The dates of the shipped price snapshots whose prices costed any of these models ("provider/model", "/model"
    without a provider: the rollups' model keys) at some time in [start, end], so a cost figure made from them can
    say how old its prices are (pricing.prices_note). Models the catalog does not price add none. One statement
    whatever the number of models (each model resolved as resolve_model does, from the entries it read)."""
    wanted: list[tuple[str, str]] = []
    for key in model_keys:
        provider, sep, model = key.partition("/")
        if not sep:
            provider, model = "", key
        if model:
            wanted.append((provider, model))
    if not wanted:
        return []
    candidates = sorted({c for _, model in wanted for c in pricing.model_id_candidates(model)})
    # One statement for every model: each candidate entry with its price schedule (an entry without prices
    # comes once, with None), in entry id order as resolve_model reads them.
    entries: dict[int, tuple[str, str]] = {}
    schedules: dict[int, list[tuple[datetime, str]]] = {}
    q = (select(CatalogModel.id, CatalogModel.provider, CatalogModel.model, ModelPrice.effective_from,
                ModelPrice.source)
         .outerjoin(ModelPrice, ModelPrice.model_id == CatalogModel.id).where(CatalogModel.model.in_(candidates))
         .order_by(CatalogModel.id, ModelPrice.effective_from))
    for entry_id, provider, model, effective_from, source in session.execute(q):
        entries[entry_id] = (provider, model)
        schedule = schedules.setdefault(entry_id, [])
        if effective_from is not None:
            schedule.append((effective_from, source or ""))
    dates: set[str] = set()
    seen: set[int] = set()
    for provider, model in wanted:
        allowed = set(pricing.model_id_candidates(model))
        by_id: dict[str, int] = {}
        for entry_id, (p, m) in entries.items():  # ascending id: the first entry of an id, as resolve_model
            if m in allowed and (not provider or p == provider):
                by_id.setdefault(m, entry_id)
        chosen = pricing.resolve_model_id(model, by_id)
        found = by_id.get(chosen) if chosen is not None else None
        if found is None or found in seen:
            continue
        seen.add(found)
        dates |= pricing.snapshot_dates_in_force(schedules[found], start, end)
    return sorted(dates)


def _snapshot(entry: CatalogModel) -> dict[str, Any]:
    return {"provider": entry.provider, "model": entry.model, "endpoint_kind": entry.endpoint_kind,
            "context_limit": entry.context_limit, "rate_limits": entry.rate_limits,
            "data_retention": entry.data_retention, "residency": entry.residency,
            "contract_terms": entry.contract_terms, "approved_tiers": entry.approved_tiers,
            "fallback_model": entry.fallback_model, "notes": entry.notes}


def upsert_model(session: Session, actor: Actor, body: ModelIn) -> CatalogModel:
    """Create or update the entry for (provider, model); a price in the body is added effective from its date."""
    if body.fallback_model:
        fp, fm = split_ref(body.fallback_model)
        if (fp, fm) == (body.provider, body.model) or (fp is None and fm == body.model):
            raise Invalid("a model cannot be its own fallback", details=[{"field": "fallback_model",
                                                                           "message": "names the model itself"}])
        if find_model(session, fp, fm) is None:
            raise Invalid(f"fallback model '{body.fallback_model}' is not in the catalog; add it first",
                          details=[{"field": "fallback_model", "message": "not in the catalog"}])
    entry = find_model(session, body.provider, body.model)
    before = _snapshot(entry) if entry is not None else None
    data = body.model_dump(exclude={"price"})
    data["rate_limits"] = body.rate_limits.model_dump(exclude_none=True)
    data["contract_terms"] = body.contract_terms.model_dump(exclude_none=True)
    data["approved_tiers"] = sorted(set(body.approved_tiers), key=["low", "medium", "high"].index)
    if entry is None:
        entry = CatalogModel(created_by=actor.username, **data)
        session.add(entry)
    else:
        for k, v in data.items():
            setattr(entry, k, v)
    session.flush()
    audit.record(session, actor, "catalog.upsert" if before else "catalog.create", "catalog_model",
                 f"{entry.provider}/{entry.model}", before, _snapshot(entry))
    if body.price is not None:
        add_price(session, actor, entry, body.price)
    return entry


def add_price(session: Session, actor: Actor, entry: CatalogModel, price: PriceIn) -> ModelPrice:
    """Add a price effective from a date (default now); an existing price at that exact date is a 409."""
    at = price.effective_from or utcnow()
    exists = session.scalar(select(ModelPrice.id).where(ModelPrice.model_id == entry.id,
                                                        ModelPrice.effective_from == at))
    if exists is not None:
        raise Conflict(f"{entry.provider}/{entry.model} already has a price effective from {at.isoformat()}; "
                       "prices are never rewritten, add one with a later date")
    row = ModelPrice(model_id=entry.id, effective_from=at, input=price.input, output=price.output,
                     cache_read=price.cache_read, cache_write=price.cache_write, reasoning=price.reasoning,
                     created_by=actor.username)
    session.add(row)
    session.flush()
    audit.record(session, actor, "catalog.price", "catalog_model", f"{entry.provider}/{entry.model}", None,
                 {"effective_from": at.isoformat(), **_price_dict(row)})
    return row


def require_approved_for_tier(session: Session, ref: str, tier: str | None) -> CatalogModel:
    """The catalog entry for ref when approved for tier; else 422 saying why (unknown model, tier not approved)."""
    provider, model = split_ref(ref)
    entry = find_model(session, provider, model)
    if entry is None:
        raise Invalid(f"model '{ref}' is not in the catalog; only catalog models may be released",
                      details=[{"field": "model", "message": "not in the catalog"}])
    if tier is None:
        raise Invalid("the use case has no risk tier yet; classify it before creating a release",
                      details=[{"field": "use_case", "message": "no risk tier"}])
    if not pricing.tier_allows(entry.approved_tiers, tier):
        approved = ", ".join(entry.approved_tiers) or "no tier"
        raise Invalid(f"model '{entry.provider}/{entry.model}' is approved for {approved}, not for the use case's "
                      f"'{tier}' risk tier", details=[{"field": "model", "message": f"not approved for tier {tier}"}])
    return entry

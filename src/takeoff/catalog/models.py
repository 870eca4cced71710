"""Catalog tables: approved models and their effective-dated prices (old costs stay right)."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from takeoff.core.db import Base, utcnow


class CatalogModel(Base):
    """One approved model of one provider: how it is called, its limits, vendor terms and the tiers it may serve."""

    __tablename__ = "catalog_models"
    __table_args__ = (UniqueConstraint("provider", "model", name="uq_catalog_models_provider_model"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    provider: Mapped[str] = mapped_column(String(100))
    model: Mapped[str] = mapped_column(String(200), index=True)
    endpoint_kind: Mapped[str] = mapped_column(String(32), default="openai")
    context_limit: Mapped[int | None] = mapped_column(default=None)
    rate_limits: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    data_retention: Mapped[str] = mapped_column(Text, default="")
    residency: Mapped[list[Any]] = mapped_column(JSON, default=list)
    contract_terms: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    approved_tiers: Mapped[list[Any]] = mapped_column(JSON, default=list)
    fallback_model: Mapped[str | None] = mapped_column(String(300), default=None)
    notes: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(100), default="system")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class ModelPrice(Base):
    """USD per 1M tokens per usage type, in force from `effective_from` until the next price of that model."""

    __tablename__ = "catalog_prices"
    __table_args__ = (UniqueConstraint("model_id", "effective_from", name="uq_catalog_prices_model_from"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("catalog_models.id", ondelete="CASCADE"), index=True)
    effective_from: Mapped[datetime] = mapped_column()
    input: Mapped[float] = mapped_column(Float)
    output: Mapped[float] = mapped_column(Float)
    cache_read: Mapped[float | None] = mapped_column(Float, default=None)
    cache_write: Mapped[float | None] = mapped_column(Float, default=None)
    reasoning: Mapped[float | None] = mapped_column(Float, default=None)
    # Where the price came from: "" when an operator entered it, "snapshot <as_of>" for the shipped price snapshot.
    source: Mapped[str] = mapped_column(String(200), default="")
    created_by: Mapped[str] = mapped_column(String(100), default="system")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

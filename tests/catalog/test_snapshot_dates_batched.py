"""`snapshot_dates` reads every model's entry and price schedule in one statement and answers exactly as the
per-model reads it replaced (resolve_model, then that entry's prices), on a catalog with two providers of one id,
snapshot-suffixed ids, an entry without prices, operator prices and unknown models."""
from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import event, select

from takeoff.catalog import pricing
from takeoff.catalog import service as catalog
from takeoff.catalog.models import CatalogModel, ModelPrice
from takeoff.core.db import transaction


def _at(day: str) -> datetime:
    return datetime.fromisoformat(day).replace(tzinfo=UTC)


def _per_model(session, model_keys, start, end):  # type: ignore[no-untyped-def]
    """The implementation before batching (one resolve and one price read per model)."""
    dates: set[str] = set()
    seen: set[int] = set()
    for key in model_keys:
        provider, sep, model = key.partition("/")
        if not sep:
            provider, model = "", key
        if not model:
            continue
        entry = catalog.resolve_model(session, provider or None, model)
        if entry is None or entry.id in seen:
            continue
        seen.add(entry.id)
        rows = session.execute(select(ModelPrice.effective_from, ModelPrice.source)
                               .where(ModelPrice.model_id == entry.id).order_by(ModelPrice.effective_from))
        dates |= pricing.snapshot_dates_in_force([(f, s or "") for f, s in rows], start, end)
    return sorted(dates)


def test_batched_snapshot_dates_equal_the_per_model_reads(factory, engine) -> None:  # type: ignore[no-untyped-def]
    with transaction(factory) as s:
        entries = {}
        for provider, model in [("acme", "bolt"), ("zeta", "bolt"), ("acme", "bolt-mini"), ("acme", "spark"),
                                ("zeta", "quiet"), ("acme", "bolt-2024-08-06")]:
            e = CatalogModel(provider=provider, model=model)
            s.add(e)
            s.flush()
            entries[(provider, model)] = e.id
        for (provider, model), day, source in [
                (("acme", "bolt"), "2025-07-01", "snapshot 2025-07-01"), (("acme", "bolt"), "2026-01-01", ""),
                (("zeta", "bolt"), "2025-03-01", "snapshot 2025-03-01"),
                (("acme", "bolt-mini"), "2026-06-01", "snapshot 2026-06-01"),
                (("acme", "spark"), "2024-01-01", "snapshot 2024-01-01"), (("acme", "spark"), "2025-09-01", None),
                (("acme", "bolt-2024-08-06"), "2025-10-01", "snapshot 2025-10-01")]:
            s.add(ModelPrice(model_id=entries[(provider, model)], effective_from=_at(day), input=1.0, output=2.0,
                             source=source or ""))
    keys_sets = [[], ["acme/bolt"], ["zeta/bolt"], ["/bolt"], ["bolt-2024-11-20"], ["acme/bolt-2024-08-06"],
                 ["acme/bolt-mini-2024-07-18", "acme/spark", "zeta/quiet", "nobody/none", "/", "acme/"],
                 ["acme/bolt", "acme/bolt", "/bolt-latest", "zeta/bolt@2025", "acme/spark-001"]]
    windows = [(None, _at("2027-01-01")), (_at("2025-08-01"), _at("2025-09-01")),
               (_at("2026-02-01"), _at("2026-07-01")), (_at("2023-01-01"), _at("2023-06-01"))]
    statements: list[int] = []

    def count(*_args) -> None:  # type: ignore[no-untyped-def]
        statements.append(1)

    event.listen(engine, "before_cursor_execute", count)
    try:
        with factory() as s:
            for keys in keys_sets:
                for start, end in windows:
                    before = len(statements)
                    got = catalog.snapshot_dates(s, keys, start, end)
                    assert len(statements) - before <= 1, "one statement whatever the number of models"
                    assert got == _per_model(s, keys, start, end), (keys, start, end)
        with factory() as s:  # and the cases are not all empty
            assert catalog.snapshot_dates(s, ["acme/bolt-2024-11-20", "zeta/bolt"], None, _at("2027-01-01")) == \
                ["2025-03-01", "2025-07-01"]
    finally:
        event.remove(engine, "before_cursor_execute", count)

"""A source's latest check run read for every source at once (data.queries.latest_runs, an index seek a source)
is the run `latest_run` reads for each, whatever the order runs were written in and with ties in time."""
from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from sqlalchemy import inspect

from takeoff.core.db import transaction
from takeoff.data import queries
from takeoff.data.models import DataCheckRun, DataSource


def test_latest_runs_equal_each_sources_latest_run(factory, users, engine) -> None:  # type: ignore[no-untyped-def]
    owner = users.create("data_owner", username="dora")
    rng = random.Random(7)
    base = datetime(2026, 12, 1, tzinfo=UTC)
    with transaction(factory) as s:
        srcs = [DataSource(name=f"src-{i}", entity="orders", owner=owner, interface="sql", connection_enc="x")
                for i in range(6)]
        s.add_all(srcs)
        s.flush()
        for src in srcs[:5]:  # the sixth is never checked
            for _ in range(rng.randint(1, 12)):  # written out of time order, several at the same instant
                at = base + timedelta(minutes=15 * rng.randint(0, 4))
                s.add(DataCheckRun(source_id=src.id, status=rng.choice(["pass", "breach", "error"]), started_at=at,
                                   finished_at=at))
            s.flush()
    with factory() as s:
        expected = {src.id: queries.latest_run(s, src.id) for src in s.query(DataSource)}
        got = queries.latest_runs(s)
        assert {sid: r.id for sid, r in got.items()} == {sid: r.id for sid, r in expected.items() if r is not None}
        assert len(got) == 5
        assert queries.latest_statuses(s) == {sid: r.status for sid, r in got.items()}
    ix = {i["name"]: i["column_names"] for i in inspect(engine).get_indexes("data_check_runs")}
    assert ix["ix_data_check_runs_source_started"] == ["source_id", "started_at", "id"]

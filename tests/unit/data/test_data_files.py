"""CSV and Parquet sources through DuckDB: checks, context stats, faults."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from takeoff.data.checks import Completeness, Freshness, Rule, Schema, run_checks
from takeoff.data.connect import SourceError, open_source
from takeoff.data.context import context_stats

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


@pytest.fixture()
def csv_path(tmp_path: Path) -> Path:
    p = tmp_path / "orders.csv"
    lines = ["id,created_at,amount,email"]
    for i in range(1, 11):
        ts = (NOW - timedelta(hours=i)).strftime("%Y-%m-%d %H:%M:%S")
        lines.append(f"{i},{ts},{-1 if i == 2 else i},{'' if i % 2 else f'u{i}@x'}")
    p.write_text("\n".join(lines) + "\n")
    return p


@pytest.fixture()
def parquet_path(tmp_path: Path) -> Path:
    p = tmp_path / "docs.parquet"
    table = pa.table(
        {
            "doc_id": ["a", "b", "c", "d", "e"],
            "updated_at": [NOW - timedelta(days=d) for d in (1, 2, 5, 50, 400)],
            "permission_labels": [["hr"], [], None, ["all"], ["legal", "hr"]],
        }
    )
    pq.write_table(table, p)
    return p


def test_csv_checks_run_in_duckdb(csv_path: Path) -> None:
    src = open_source(str(csv_path))
    assert src.dialect == "duckdb" and src.default_table == "data"
    res = run_checks(
        src, "data",
        [Freshness(column="created_at", max_age_s=3000), Completeness(fields={"email": 0.5, "amount": 1.0}),
         Rule(name="positive", expression="amount > 0", min_share=0.9)],
        NOW,
    )
    assert [(r.name, r.status) for r in res] == [
        ("created_at", "breach"), ("email", "pass"), ("amount", "pass"), ("positive", "pass"),
    ]
    assert res[0].observed["age_s"] == pytest.approx(3600)
    assert res[1].observed["rate"] == pytest.approx(0.5)
    src.close()


def test_file_rules_cannot_read_other_files_or_write(csv_path: Path, tmp_path: Path) -> None:
    src = open_source(str(csv_path))
    reads = run_checks(src, "data", [Rule(name="r", expression=f"EXISTS (SELECT * FROM read_csv_auto('{csv_path}'))")], NOW)[0]
    assert reads.status == "error" and "read_csv_auto" in reads.reason.lower()
    copy = run_checks(src, "data", [Rule(name="c", expression=f"amount > 0; COPY data TO '{tmp_path / 'out.csv'}'")], NOW)[0]
    assert copy.status == "error" and not (tmp_path / "out.csv").exists()
    src.close()
    assert len(csv_path.read_text().splitlines()) == 11


def test_parquet_context_stats(parquet_path: Path) -> None:
    src = open_source(str(parquet_path), view_name="docs")
    s = context_stats(src, "docs", now=NOW, freshness_sla_s=30 * 86400)
    assert s.documents == 5 and s.stale == 2 and s.stale_share == pytest.approx(0.4)
    assert s.unlabeled == 2  # an empty list and a NULL
    assert s.age_percentiles_s["p50"] == pytest.approx(5 * 86400)
    assert s.oldest_age_s == pytest.approx(400 * 86400)
    ok = context_stats(src, "docs", now=NOW, freshness_sla_s=500 * 86400, max_unlabeled=2)
    assert ok.status == "pass"
    src.close()


def test_folder_of_parquet_files(parquet_path: Path, tmp_path: Path) -> None:
    pq.write_table(pq.read_table(parquet_path), tmp_path / "more.parquet")
    src = open_source(str(tmp_path))
    r = run_checks(src, "data", [Completeness(fields={"doc_id": 1.0})], NOW)[0]
    assert r.status == "pass" and r.observed["rows"] == 10
    src.close()


def test_schema_fingerprint_of_file(csv_path: Path) -> None:
    src = open_source(str(csv_path))
    first = run_checks(src, "data", [Schema(expected_fingerprint="sha256:0")], NOW)[0]
    assert first.status == "breach"
    again = run_checks(src, "data", [Schema(expected_fingerprint=first.observed["fingerprint"])], NOW)[0]
    assert again.status == "pass"
    src.close()


def test_file_faults(tmp_path: Path, csv_path: Path) -> None:
    with pytest.raises(SourceError, match="does not exist"):
        open_source(str(tmp_path / "nope.csv"))
    (tmp_path / "notes.md").write_text("hi")
    with pytest.raises(SourceError, match="neither CSV nor Parquet"):
        open_source(str(tmp_path / "notes.md"))
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(b"not parquet at all")
    with pytest.raises(SourceError, match="cannot read PARQUET"):
        open_source(str(bad))
    src = open_source(str(csv_path))
    r = run_checks(src, "other", [Freshness(column="created_at", max_age_s=1)], NOW)[0]
    assert r.status == "error" and r.reason == "table other does not exist"
    r = run_checks(src, "data", [Rule(name="g", expression="ghost > 1")], NOW)[0]
    assert r.status == "error" and "ghost" in r.reason
    src.close()

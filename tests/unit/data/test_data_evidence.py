"""Readiness item 'Data quality' decided from source facts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from takeoff.data.evidence import LatestCheck, SourceFacts, data_quality_evidence

NOW = datetime(2026, 11, 25, 12, tzinfo=UTC)
GREEN = (
    LatestCheck("freshness", "created_at", "pass", NOW - timedelta(hours=1)),
    LatestCheck("completeness", "email", "pass", NOW - timedelta(hours=1)),
    LatestCheck("rule", "amount >= 0", "pass", NOW - timedelta(hours=1)),
)
KINDS = ("freshness", "completeness", "rule")


def test_no_sources_is_no_evidence() -> None:
    e = data_quality_evidence([])
    assert e.status == "no_evidence" and "no critical data source" in e.reasons[0]


def test_all_owned_defined_and_green_passes() -> None:
    e = data_quality_evidence([SourceFacts("orders", "ana@corp", KINDS, latest=GREEN)])
    assert e.status == "pass" and "owner ana@corp" in e.reasons[0]


def test_each_gap_fails_with_its_reason() -> None:
    sources = [
        SourceFacts("orders", None, KINDS, latest=GREEN),
        SourceFacts("crm", "bo", ("freshness",), latest=GREEN[:1]),
        SourceFacts("kb", "cy", KINDS, latest=()),
        SourceFacts("ledger", "di", KINDS, latest=(*GREEN[:2], LatestCheck("rule", "balanced", "breach", NOW, "92% < 99%"))),
    ]
    e = data_quality_evidence(sources)
    assert e.status == "fail"
    text = "\n".join(e.reasons)
    assert "source orders has no owner" in text
    assert "source crm has no completeness, rule check defined" in text
    assert "source kb has never been checked" in text
    assert "source ledger latest rule check balanced is breach (92% < 99%)" in text


def test_required_kinds_are_per_source_and_stale_checks_fail() -> None:
    schema_only = SourceFacts("docs", "eve", ("schema",), required_kinds=frozenset({"schema"}),
                              latest=(LatestCheck("schema", "schema", "pass", NOW - timedelta(days=3)),))
    assert data_quality_evidence([schema_only]).status == "pass"
    e = data_quality_evidence([schema_only], now=NOW, max_check_age_s=86400)
    assert e.status == "fail" and "older than" in e.reasons[0]


def test_bad_input() -> None:
    with pytest.raises(ValueError, match="SourceFacts"):
        data_quality_evidence([{"name": "x"}])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="unknown check kind"):
        data_quality_evidence([SourceFacts("x", "o", ("vibes",))])
    with pytest.raises(ValueError, match="unique"):
        data_quality_evidence([SourceFacts("x", "o"), SourceFacts("x", "p")])
    with pytest.raises(ValueError, match="needs"):
        data_quality_evidence([SourceFacts("x", "o")], max_check_age_s=60)
    with pytest.raises(ValueError):
        data_quality_evidence("orders")  # type: ignore[arg-type]

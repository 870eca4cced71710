"""The OTLP mapping's results are frozen: every export of the corpus (the OTLP tests' exports, the real
instrumentation packages' dumps, seeded random spans of the three families, the bench's shape) maps to exactly the
events, refusals and checked events recorded in data/otlp_golden.jsonl.gz before the mapping was made faster."""
from __future__ import annotations

import gzip
import json

from tests.telemetry import otlp_corpus


def test_mapping_matches_the_frozen_results():
    with gzip.open(otlp_corpus.GOLDEN, "rt") as f:
        golden = [line.rstrip("\n").split("\t", 1) for line in f]
    now = list(otlp_corpus.outputs())
    assert [json.loads(n) for n, _ in golden] == [n for n, _ in now]
    differ = [name for (_, want), (name, got) in zip(golden, now, strict=True) if want != got]
    assert differ == [], f"{len(differ)} export(s) map differently: {differ[:10]}"

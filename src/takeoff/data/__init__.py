"""Data foundation: sources of truth and the quality SLAs checked inside the real data.

`connect` opens a source (any SQLAlchemy URL, or a CSV/Parquet path through DuckDB) read-only;
`checks` runs freshness, completeness, accuracy rules, reconciliations and schema stability as SQL
aggregates in the source itself; `rules` refuses anything but one read-only boolean expression;
`schema` fingerprints and diffs column sets; `context` measures a GenAI use case's retrieval
sources (the context pipeline treated as data); `evidence` decides the readiness item
"Data quality" from those facts.
"""

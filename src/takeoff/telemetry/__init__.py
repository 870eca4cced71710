"""Telemetry: ingestion of usage events, per-minute rollups and the histograms that dashboards, SLOs and drift read."""

"""Monitoring: drift against a release's baseline, canary analysis and SLO error budgets, read from rollups."""

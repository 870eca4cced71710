"""Releases: immutable bundles, lifecycle, pre-release checklist, approvals by tier, canary and rollback."""

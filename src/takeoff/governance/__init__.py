"""Governance: risk tiers, EU AI Act classification, control library, operating model and tier policies."""

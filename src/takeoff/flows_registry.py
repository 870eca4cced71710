"""The composition root's wiring of cross-domain reactions and capabilities: every domain's flows.py registers here,
once, at start (and the evidence registry learns where its default kinds come from).

create_app(), the CLI's worker start-up and the tests call register_flows(); adding a flow means a handler in the
reacting domain's flows.py, its subscribe() in that module's register(), and (for a new domain) one line below.
"""
from __future__ import annotations

from takeoff.core import events


def register_flows() -> None:
    """Subscribe every domain's reactions and provide the optional capabilities (idempotent)."""
    from takeoff.evidence import defaults as evidence_defaults
    from takeoff.evidence.registry import evidence_kinds
    from takeoff.governance import flows as governance_flows
    from takeoff.incidents import flows as incidents_flows
    from takeoff.monitoring import flows as monitoring_flows
    from takeoff.releases import flows as releases_flows
    from takeoff.reports import quarterly
    from takeoff.review import flows as review_flows

    governance_flows.register()
    releases_flows.register()
    monitoring_flows.register()  # before incidents: channels hear of a data breach before the incidents it opens
    incidents_flows.register()
    review_flows.register()  # after incidents: a resolved incident resolves the violations reviews linked to it
    events.provide("reports.quarterly", quarterly)
    evidence_kinds.set_defaults(evidence_defaults.register)  # every domain's evidence kinds, loaded on first read

"""Import every domain's models so Base.metadata knows all tables (Alembic, tests, create_all): one line per domain
with tables, in the floor order of takeoff.domains (tests/foundation/test_flows_and_events.py checks none is missing)."""
from __future__ import annotations

import takeoff.auth.models
import takeoff.audit.models
import takeoff.jobs.models
import takeoff.portfolio.models
import takeoff.governance.models
import takeoff.catalog.models
import takeoff.evals.models
import takeoff.releases.models
import takeoff.telemetry.models
import takeoff.monitoring.models
import takeoff.incidents.models
import takeoff.findings.models
import takeoff.data.models
import takeoff.review.models
import takeoff.quality.models
import takeoff.outcomes.models  # noqa: F401

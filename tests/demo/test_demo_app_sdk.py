"""The demo's stand-in application sends its traffic and feedback through the real SDK over HTTP."""
from __future__ import annotations

import threading
from datetime import timedelta

from takeoff.demo import app as demo_app
from takeoff.core.db import transaction, utcnow
from takeoff.telemetry import feedback as telemetry_feedback
from takeoff.telemetry import window as telemetry_window


def test_sdk_traffic_reaches_rollups_and_feedback(live_server, users, factory):
    name = users.create("ai_engineer", username="app")
    served = demo_app.run(live_server, users.token(name), threading.Event(), interval_s=0.0, max_requests=40)
    assert served == 40
    now = utcnow()
    with transaction(factory) as s:
        stats = telemetry_window.window_stats(s, "support-reply", None, now - timedelta(hours=1), now + timedelta(minutes=1))
        feedback = telemetry_feedback.feedback_for(s, "support-reply", now - timedelta(hours=1), now + timedelta(minutes=1))
    assert stats.count == 40
    assert stats.tokens.get("input", 0) > 0 and stats.cost_usd > 0
    assert stats.outcomes.get("success", 0) + stats.outcomes.get("escalated", 0) == 40
    assert len(feedback) >= 1

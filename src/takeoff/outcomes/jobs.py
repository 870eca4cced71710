"""Outcome jobs: the weekly adoption scorecard, computed per use case and sent to its notification channels."""
from __future__ import annotations

from typing import Any

from takeoff.core.db import transaction
from takeoff.jobs import registry
from takeoff.monitoring import notifications as monitoring
from takeoff.outcomes import adoption
from takeoff.portfolio import service as portfolio

WEEK_S = 7 * 86400


def scorecard_payload(card: dict[str, Any]) -> dict[str, Any]:
    """The part of a scorecard a webhook carries: this week's figures, the trained share and the top themes."""
    week = card["weeks"][-1] if card["weeks"] else {}
    return {"use_case": card["use_case"], "week": week, "trained_share": card["trained_share"],
            "themes": [{"label": t["label"], "size": t["size"], "examples": t["examples"][:1]} for t in card["themes"][:3]],
            "notes": card["notes"]}


@registry.handler("outcomes.weekly_scorecard")
def weekly_scorecard(ctx: registry.JobContext, payload: dict[str, Any]) -> dict[str, Any]:
    """Compute every active use case's scorecard and send it to its channels."""
    with transaction(ctx.factory) as s:
        keys = [u.key for u in portfolio.list_use_cases(s) if u.status in ("pilot", "production")]
    for i, key in enumerate(keys):
        with transaction(ctx.factory) as s:
            card = adoption.weekly_scorecard(s, key, weeks=2)
            monitoring.notify(s, key, "scorecard.weekly", scorecard_payload(card))
        ctx.progress(i + 1, len(keys))
    return {"use_cases": len(keys), "notified": len(keys)}


registry.every("outcomes.weekly_scorecard", WEEK_S)

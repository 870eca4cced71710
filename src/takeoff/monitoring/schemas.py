"""Monitoring inputs: alert rules, notification channels, per-use-case settings, baselines."""
from __future__ import annotations

from typing import Any

from pydantic import ConfigDict, Field, model_validator

from takeoff.core.types import BoundedDateTime, Input


class RuleIn(Input):
    """An alert rule: `metric` (metrics API name, error_category_rate, drift or drift:<feature>) `op` `threshold`
    over `window` ("5m", "1h", "1d" or seconds)."""

    model_config = ConfigDict(extra="forbid")

    use_case: str = Field(min_length=1, max_length=64)
    name: str = Field(default="", max_length=200)
    metric: str = Field(min_length=1, max_length=100)
    op: str = Field(default=">", max_length=4)
    threshold: Any
    window: Any = "5m"
    severity: int = Field(default=3, ge=1, le=4)
    open_incident: bool = True


class ChannelIn(Input):
    """A channel: kind webhook (generic signed JSON), slack, teams, pagerduty (secret: the routing key), email (an
    smtp:// URL; secret: the SMTP password) or jira (the create-issue URL with ?project=KEY; secret: email:api-token
    or a personal access token); optional use case and event filters."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    kind: str = Field(default="webhook", max_length=16)
    url: str = Field(min_length=1, max_length=1000)
    secret: str = Field(min_length=8, max_length=200)
    use_case: str | None = Field(default=None, max_length=64)
    events: list[str] = Field(default_factory=list, max_length=50)
    timeout_s: float = Field(default=5.0, gt=0, le=60)
    max_attempts: int = Field(default=4, ge=1, le=10)

    @model_validator(mode="after")
    def _url_fits_kind(self) -> ChannelIn:
        from takeoff.monitoring import webhooks

        if self.kind in webhooks.KINDS:
            webhooks.check_kind_url(self.kind, self.url)  # a ValueError is a 422 naming the problem
        return self


class SettingsIn(Input):
    """Per-use-case monitoring settings (only the fields given change)."""

    model_config = ConfigDict(extra="forbid")

    auto_rollback: bool | None = None
    drift_thresholds: dict[str, float] | None = None
    drift_features: list[str] | None = None
    drift_window_s: int | None = Field(default=None, ge=300, le=30 * 86400)
    canary_min_sample: int | None = Field(default=None, ge=2, le=10_000_000)
    canary_window_s: int | None = Field(default=None, ge=300, le=30 * 86400)
    quality_error_threshold: float | None = Field(default=None, ge=0, le=1)
    quality_slo_score: str | None = Field(default=None, max_length=100, pattern=r"^[A-Za-z0-9_.:-]*$",
                                          description="the 0..1 score the quality SLO reads; empty: 'pass'")


class BaselineIn(Input):
    """The baseline window drift is measured against (features are frozen from the release's events there)."""

    model_config = ConfigDict(extra="forbid")

    start: BoundedDateTime
    end: BoundedDateTime
    release_id: str | None = Field(default=None, max_length=100)
    # Drift compares against histograms binned on the frozen edges; rollups written before the freeze are not
    # re-binned, so the reference window may be set apart (defaults to the baseline window itself).
    reference_start: BoundedDateTime | None = None
    reference_end: BoundedDateTime | None = None


class BudgetIn(Input):
    """A cost budget: `limit_usd` per `window` (day or month, UTC) for a use case or one `release` of it; an alert
    at `warn_share` of the limit and another at the limit; `enforce: fallback` also makes active() send SDKs to
    the fallback until the window resets."""

    model_config = ConfigDict(extra="forbid")

    use_case: str = Field(min_length=1, max_length=64)
    release: str | None = Field(default=None, min_length=1, max_length=200)
    window: str = Field(default="month", max_length=16)
    limit_usd: float
    warn_share: float = 0.8
    enforce: str = Field(default="alert", max_length=16)

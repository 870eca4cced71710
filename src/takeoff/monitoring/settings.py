"""A use case's monitoring settings (drift, canary, quality threshold, automatic rollback) and its drift baseline
window; the effective values with their defaults."""
from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from takeoff.audit import service as audit
from takeoff.core.actor import Actor
from takeoff.core.errors import Invalid
from takeoff.monitoring import canary as canary_math
from takeoff.monitoring import drift as drift_math
from takeoff.monitoring.models import MonitorSetting
from takeoff.monitoring.schemas import BaselineIn, SettingsIn
from takeoff.monitoring.thresholds import invalid_field
from takeoff.portfolio import service as portfolio
from takeoff.portfolio.models import UseCase
from takeoff.telemetry import baselines as telemetry_baselines


def setting(session: Session, key: str) -> MonitorSetting | None:
    """The use case's stored settings row, if any."""
    return session.scalar(select(MonitorSetting).where(MonitorSetting.use_case_key == key))


def auto_rollback_enabled(uc: UseCase, setting: MonitorSetting | None) -> bool:
    """The stored choice, else the default: on for high-tier use cases."""
    if setting is not None and setting.auto_rollback is not None:
        return bool(setting.auto_rollback)
    return uc.risk_tier == "high"


def settings_view(session: Session, key: str) -> dict[str, Any]:
    """A use case's effective monitoring settings, including the rollback trigger rule in words."""
    uc = portfolio.get(session, key)
    s = setting(session, key)
    auto = auto_rollback_enabled(uc, s)
    min_sample = s.canary_min_sample if s else canary_math.DEFAULT_MIN_SAMPLE
    window = s.canary_window_s if s else 3600
    rule = (f"While a release is in canary, every minute its last {window // 60} min are compared with production "
            f"on error rate, latency p95 and quality score (at least {min_sample} requests on each side). "
            + ("A breach rolls the canary back automatically, opens a severity-2 incident and notifies the on-call."
               if auto else "A breach opens a severity-2 incident and notifies the on-call; automatic rollback is off."))
    return {"use_case": key, "auto_rollback": auto, "auto_rollback_source": "set" if s and s.auto_rollback is not None
            else f"default for {uc.risk_tier or 'unclassified'} tier",
            "drift_thresholds": drift_math.resolve_thresholds((s.drift_thresholds if s else None) or None),
            "drift_features": list(s.drift_features or []) if s else [],
            "drift_window_s": s.drift_window_s if s else 3600,
            "baseline_start": s.baseline_start.isoformat() if s and s.baseline_start else None,
            "baseline_end": s.baseline_end.isoformat() if s and s.baseline_end else None,
            "canary_min_sample": min_sample, "canary_window_s": window,
            "quality_error_threshold": s.quality_error_threshold if s else 0.02,
            "quality_slo_score": (s.quality_slo_score if s else None) or "pass",
            "on_call": uc.on_call, "rollback_trigger": rule}


def _ensure_setting(session: Session, key: str) -> MonitorSetting:
    s = setting(session, key)
    if s is None:
        try:
            with session.begin_nested():
                s = MonitorSetting(use_case_key=key)
                session.add(s)
        except IntegrityError:
            s = setting(session, key)
            assert s is not None
    return s


def update_settings(session: Session, actor: Actor, key: str, body: SettingsIn) -> dict[str, Any]:
    """Change a use case's monitoring settings (validated before anything is written)."""
    portfolio.get(session, key)
    fields = body.model_dump(exclude_unset=True)
    if "drift_thresholds" in fields:
        try:
            drift_math.resolve_thresholds(fields["drift_thresholds"] or {})
        except ValueError as exc:
            raise invalid_field(exc, "drift_thresholds") from None
        fields["drift_thresholds"] = fields["drift_thresholds"] or {}
    if "drift_features" in fields:
        fields["drift_features"] = fields["drift_features"] or []
    before = settings_view(session, key)
    s = _ensure_setting(session, key)
    if fields.get("quality_slo_score") == "":
        s.quality_slo_score = None  # back to the "pass" score
        fields.pop("quality_slo_score")
    for k, v in fields.items():
        if v is not None or k == "auto_rollback":
            setattr(s, k, v)
    session.flush()
    after = settings_view(session, key)
    audit.record(session, actor, "monitoring.settings", "use_case", key, before, after)
    return after


def set_baseline(session: Session, actor: Actor, key: str, body: BaselineIn) -> dict[str, Any]:
    """Freeze feature bins from the window (telemetry) and make it the drift reference window."""
    portfolio.get(session, key)
    if body.start.tzinfo is None or body.end.tzinfo is None or body.start >= body.end:
        raise Invalid("the baseline window needs timezone-aware start < end",
                      details=[{"field": "start", "message": "start must be before end, both with a timezone"}])
    frozen: dict[str, Any] | None = telemetry_baselines.set_baseline(session, actor, key, body.release_id, body.start, body.end)
    ref_start, ref_end = body.reference_start or body.start, body.reference_end or body.end
    if ref_start.tzinfo is None or ref_end.tzinfo is None or ref_start >= ref_end:
        raise Invalid("the reference window needs timezone-aware reference_start < reference_end",
                      details=[{"field": "reference_start", "message": "start must be before end"}])
    s = _ensure_setting(session, key)
    s.baseline_start, s.baseline_end = ref_start, ref_end
    audit.record(session, actor, "monitoring.baseline", "use_case", key, None,
                 {"start": body.start.isoformat(), "end": body.end.isoformat(), "release": body.release_id,
                  "reference_start": ref_start.isoformat(), "reference_end": ref_end.isoformat()})
    return {"use_case": key, "start": body.start.isoformat(), "end": body.end.isoformat(),
            "reference_start": ref_start.isoformat(), "reference_end": ref_end.isoformat(),
            "features": sorted((frozen or {}).get("features", {}))}

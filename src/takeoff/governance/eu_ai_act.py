"""EU AI Act (Regulation 2024/1689) questionnaire and its classification, as a pure function.

Order matters: Art. 5(1) prohibitions are checked first (a system that is both prohibited and in an Annex III area
is prohibited); then Annex I products (Art. 6(1)); then Annex III areas (Art. 6(2)) unless an Art. 6(3) exemption
applies and the system does not profile people; then Art. 50 transparency duties (limited risk); else minimal risk.
General-purpose AI models (Arts. 51-55) are flagged separately, since they carry duties whatever the category.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

EUCategory = Literal["prohibited", "high_risk", "limited_risk", "minimal_risk"]
AnnexIIIArea = Literal[
    "biometrics",
    "critical_infrastructure",
    "education",
    "employment",
    "essential_services",
    "law_enforcement",
    "migration_border",
    "justice_democracy",
]

# Art. 5(1) points (a)-(h), in the Regulation's order; (h) is real-time remote biometric identification in
# publicly accessible spaces for law enforcement, not a transparency or categorisation duty.
PROHIBITED_PRACTICES: dict[str, tuple[str, str]] = {
    "manipulative_techniques": ("Art.5(1)(a)", "uses manipulative or deceptive techniques that distort behaviour"),
    "exploits_vulnerabilities": ("Art.5(1)(b)", "exploits vulnerabilities of age, disability or social situation"),
    "social_scoring": ("Art.5(1)(c)", "scores people socially, leading to detrimental treatment"),
    "crime_prediction_profiling": ("Art.5(1)(d)", "predicts criminal offending from profiling or traits alone"),
    "untargeted_facial_scraping": ("Art.5(1)(e)", "builds facial recognition databases by untargeted scraping"),
    "emotion_recognition_work_education": (
        "Art.5(1)(f)",
        "recognises emotions at work or in education (not for medical or safety reasons)",
    ),
    "biometric_categorisation_sensitive": (
        "Art.5(1)(g)",
        "categorises people by biometrics to infer sensitive traits",
    ),
    "realtime_remote_biometric_id_law_enforcement": (
        "Art.5(1)(h)",
        "identifies people remotely in real time in public spaces for law enforcement",
    ),
}

ANNEX_III_AREAS: dict[str, str] = {
    "biometrics": "AnnexIII.1",
    "critical_infrastructure": "AnnexIII.2",
    "education": "AnnexIII.3",
    "employment": "AnnexIII.4",
    "essential_services": "AnnexIII.5",
    "law_enforcement": "AnnexIII.6",
    "migration_border": "AnnexIII.7",
    "justice_democracy": "AnnexIII.8",
}

ART_6_3_EXEMPTIONS: dict[str, tuple[str, str]] = {
    "narrow_procedural_task": ("Art.6(3)(a)", "performs only a narrow procedural task"),
    "improves_completed_human_activity": ("Art.6(3)(b)", "improves the result of a completed human activity"),
    "detects_patterns_without_replacing_review": (
        "Art.6(3)(c)",
        "detects decision patterns without replacing human review",
    ),
    "preparatory_task": ("Art.6(3)(d)", "performs a preparatory task for an assessment"),
}

ART_50_TRIGGERS: dict[str, tuple[str, str]] = {
    "interacts_with_people": ("Art.50(1)", "interacts directly with people"),
    "generates_synthetic_content": ("Art.50(2)", "generates synthetic audio, image, video or text"),
    "emotion_recognition_or_biometric_categorisation": (
        "Art.50(3)",
        "recognises emotions or categorises people by biometrics",
    ),
    "deepfake_or_public_interest_text": ("Art.50(4)", "produces deepfakes or published text on public-interest matters"),
}

HIGH_RISK_OBLIGATIONS: tuple[str, ...] = (
    "Art.9", "Art.10", "Art.11", "Art.12", "Art.13", "Art.14", "Art.15", "Art.17", "Art.26", "Art.72", "Art.73",
)
ALWAYS_APPLIES: tuple[str, ...] = ("Art.4",)


class EUAnswers(BaseModel):
    """The EU AI Act questionnaire for one AI system; every flag defaults to False (not the case)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    # Art. 5(1) prohibited practices (a)-(h)
    manipulative_techniques: bool = False
    exploits_vulnerabilities: bool = False
    social_scoring: bool = False
    crime_prediction_profiling: bool = False
    untargeted_facial_scraping: bool = False
    emotion_recognition_work_education: bool = False
    biometric_categorisation_sensitive: bool = False
    realtime_remote_biometric_id_law_enforcement: bool = False
    # Art. 6 high-risk classification
    annex_i_product: bool = False
    annex_iii_area: AnnexIIIArea | None = None
    narrow_procedural_task: bool = False
    improves_completed_human_activity: bool = False
    detects_patterns_without_replacing_review: bool = False
    preparatory_task: bool = False
    profiles_people: bool = False
    # Art. 50 transparency triggers
    interacts_with_people: bool = False
    generates_synthetic_content: bool = False
    emotion_recognition_or_biometric_categorisation: bool = False
    deepfake_or_public_interest_text: bool = False
    # General-purpose AI models (Arts. 51-55)
    is_gpai_model: bool = False
    gpai_systemic_risk: bool = False

    @model_validator(mode="after")
    def _systemic_risk_needs_gpai(self) -> EUAnswers:
        if self.gpai_systemic_risk and not self.is_gpai_model:
            raise ValueError("gpai_systemic_risk is only meaningful when is_gpai_model is true")
        return self


@dataclass(frozen=True)
class Trigger:
    """One answer that led to the classification, with the article it engages."""

    answer: str
    article: str
    reason: str


@dataclass(frozen=True)
class EUClassification:
    """The EU AI Act category of a system, why, and which articles apply; GPAI is flagged on its own."""

    category: EUCategory
    triggers: tuple[Trigger, ...]
    obligations: tuple[str, ...]
    gpai: bool = False
    gpai_systemic_risk: bool = False
    gpai_obligations: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()


def parse_answers(answers: EUAnswers | Mapping[str, Any]) -> EUAnswers:
    """Validate questionnaire answers; ValueError with one readable message on unknown fields or wrong types."""
    if isinstance(answers, EUAnswers):
        return answers
    if not isinstance(answers, Mapping):
        raise ValueError("EU AI Act answers must be a mapping of question to answer")
    try:
        return EUAnswers.model_validate(dict(answers))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        msg = str(first["msg"]).removeprefix("Value error, ")
        raise ValueError(f"EU AI Act answers: {where + ': ' if where else ''}{msg}") from None


def _flagged(answers: EUAnswers, table: Mapping[str, tuple[str, str]]) -> list[Trigger]:
    return [Trigger(name, art, reason) for name, (art, reason) in table.items() if getattr(answers, name)]


def classify(answers: EUAnswers | Mapping[str, Any]) -> EUClassification:
    """Classify a system under the EU AI Act: prohibited, then high-risk (Annex I, Annex III less Art. 6(3)), then Art. 50."""
    a = parse_answers(answers)
    transparency = _flagged(a, ART_50_TRIGGERS)
    transparency_ids = tuple(t.article for t in transparency)
    gpai_obligations: tuple[str, ...] = ()
    if a.is_gpai_model:
        gpai_obligations = ("Art.53", "Art.55") if a.gpai_systemic_risk else ("Art.53",)
    common = {"gpai": a.is_gpai_model, "gpai_systemic_risk": a.gpai_systemic_risk, "gpai_obligations": gpai_obligations}

    prohibited = _flagged(a, PROHIBITED_PRACTICES)
    if prohibited:
        notes = ()
        if a.annex_iii_area or a.annex_i_product:
            notes = ("also in a high-risk area, but a prohibited practice cannot be placed on the market at all",)
        return EUClassification(
            category="prohibited",
            triggers=tuple(prohibited),
            obligations=ALWAYS_APPLIES + tuple(t.article for t in prohibited),
            notes=notes,
            **common,
        )

    triggers: list[Trigger] = []
    notes: list[str] = []
    if a.annex_i_product:
        triggers.append(Trigger("annex_i_product", "Art.6(1)", "is, or is a safety component of, an Annex I product"))
    if a.annex_iii_area is not None:
        area = ANNEX_III_AREAS[a.annex_iii_area]
        exemptions = _flagged(a, ART_6_3_EXEMPTIONS)
        if not exemptions:
            triggers.append(Trigger("annex_iii_area", area, f"is used in the Annex III area {a.annex_iii_area}"))
        elif a.profiles_people:
            triggers.append(Trigger("annex_iii_area", area, f"is used in the Annex III area {a.annex_iii_area}"))
            triggers.append(
                Trigger("profiles_people", "Art.6(3)", "profiles natural persons, so no Art. 6(3) exemption applies")
            )
        elif not triggers:
            notes.append(
                f"Annex III area {a.annex_iii_area} exempted by "
                + ", ".join(f"{e.article} ({e.reason})" for e in exemptions)
                + "; document the assessment and register the system (Art. 6(4))"
            )
            exempt = tuple(exemptions)
            category: EUCategory = "limited_risk" if transparency else "minimal_risk"
            return EUClassification(
                category=category,
                triggers=exempt + tuple(transparency),
                obligations=ALWAYS_APPLIES + ("Art.6(4)",) + transparency_ids,
                notes=tuple(notes),
                **common,
            )
    if triggers:
        return EUClassification(
            category="high_risk",
            triggers=tuple(triggers),
            obligations=ALWAYS_APPLIES + HIGH_RISK_OBLIGATIONS + transparency_ids,
            notes=tuple(notes),
            **common,
        )
    if transparency:
        return EUClassification(
            category="limited_risk",
            triggers=tuple(transparency),
            obligations=ALWAYS_APPLIES + transparency_ids,
            **common,
        )
    return EUClassification(category="minimal_risk", triggers=(), obligations=ALWAYS_APPLIES, **common)

"""EU AI Act (Regulation 2024/1689) questionnaire and its classification, as a pure decision procedure.

Over ~400 lines on purpose: the Act's questionnaire and classification as one table, article by article, so it can
be read against the text.

The order follows the Act:
  1. Art. 5(1) prohibited practices (a)-(h), with the exceptions of (f) (medical or safety reasons) and (h) (the three
     law-enforcement objectives of (h)(i)-(iii)); a prohibition wins over anything below.
  2. Art. 6(1): a product, or a safety component of a product, under the Annex I legislation that needs a
     third-party conformity assessment is high-risk.
  3. Art. 6(2) with Annex III at the level of its points (1(a) ... 8(b)), less each point's own exclusion (1(a)
     biometric verification, 5(b) financial fraud detection, 7(d) travel document verification, 8(b) tools whose
     output people are not directly exposed to). Art. 6(3): such a system is not high-risk when it poses no
     significant risk and meets one of the conditions (a)-(d), the provider documenting the assessment (Art. 6(4)),
     but it is always high-risk when it profiles natural persons.
  4. Art. 50 transparency duties stack on any outcome; alone they make the system limited risk.
  5. General-purpose AI models (Arts. 51-55): Art. 53 duties, and systemic risk (Art. 55 duties) when the cumulative
     training compute exceeds 10^25 FLOPs (Art. 51(2)), the model has high-impact capabilities (Art. 51(1)(a)), or
     the Commission designated it (Art. 51(1)(b)).
Every trigger names the answer, the article and point, and a reason; bad or contradictory answers raise ValueError
naming the field (the API turns it into a 422).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError

EUCategory = Literal["prohibited", "high_risk", "limited_risk", "minimal_risk"]
AnnexIIIPoint = Literal[
    "1(a)", "1(b)", "1(c)", "2", "3(a)", "3(b)", "3(c)", "3(d)", "4(a)", "4(b)", "5(a)", "5(b)", "5(c)", "5(d)",
    "6(a)", "6(b)", "6(c)", "6(d)", "6(e)", "7(a)", "7(b)", "7(c)", "7(d)", "8(a)", "8(b)",
]
RBIException = Literal["victim_search", "imminent_threat", "suspect_localisation"]
SYSTEMIC_RISK_FLOPS = 1e25  # Art. 51(2): presumed high-impact capabilities above this cumulative training compute

# Art. 5(1) points (a)-(h), in the Regulation's order.
PROHIBITED_PRACTICES: dict[str, tuple[str, str]] = {
    "manipulative_techniques": (
        "Art.5(1)(a)",
        "uses subliminal, manipulative or deceptive techniques that materially distort behaviour, causing "
        "significant harm",
    ),
    "exploits_vulnerabilities": (
        "Art.5(1)(b)",
        "exploits vulnerabilities of age, disability or a social or economic situation, causing significant harm",
    ),
    "social_scoring": ("Art.5(1)(c)", "scores people socially, leading to detrimental or unfavourable treatment"),
    "crime_prediction_profiling": (
        "Art.5(1)(d)",
        "predicts a person's risk of committing a criminal offence based solely on profiling or personality traits",
    ),
    "untargeted_facial_scraping": (
        "Art.5(1)(e)",
        "builds facial recognition databases by untargeted scraping of images from the internet or CCTV",
    ),
    "emotion_recognition_work_education": (
        "Art.5(1)(f)",
        "infers emotions of people in the workplace or in education institutions",
    ),
    "biometric_categorisation_sensitive": (
        "Art.5(1)(g)",
        "categorises people by biometric data to infer race, political opinions, trade union membership, religious "
        "or philosophical beliefs, sex life or sexual orientation",
    ),
    "realtime_remote_biometric_id_law_enforcement": (
        "Art.5(1)(h)",
        "identifies people remotely in real time in publicly accessible spaces for law enforcement",
    ),
}

# Art. 5(1)(h)(i)-(iii): the only objectives for which real-time remote biometric identification may be used.
RBI_EXCEPTIONS: dict[str, tuple[str, str]] = {
    "victim_search": ("Art.5(1)(h)(i)", "targeted search for specific victims of abduction, trafficking or sexual "
                                        "exploitation, or for missing persons"),
    "imminent_threat": ("Art.5(1)(h)(ii)", "prevents a specific, substantial and imminent threat to life or "
                                           "physical safety, or a genuine threat of a terrorist attack"),
    "suspect_localisation": ("Art.5(1)(h)(iii)", "locates or identifies a suspect of an Annex II criminal offence "
                                                 "punishable by at least four years"),
}

ANNEX_III_AREAS: dict[str, str] = {
    "1": "biometrics",
    "2": "critical infrastructure",
    "3": "education and vocational training",
    "4": "employment, workers' management and access to self-employment",
    "5": "access to essential private services and essential public services and benefits",
    "6": "law enforcement",
    "7": "migration, asylum and border control management",
    "8": "administration of justice and democratic processes",
}

# Annex III points, in the Annex's order: point -> what the system is intended to do.
ANNEX_III_POINTS: dict[str, str] = {
    "1(a)": "remote biometric identification",
    "1(b)": "biometric categorisation according to sensitive or protected attributes inferred from biometric data",
    "1(c)": "emotion recognition",
    "2": "safety component in the management and operation of critical digital infrastructure, road traffic, or the "
         "supply of water, gas, heating or electricity",
    "3(a)": "determines access or admission, or assigns people, to education and vocational training institutions",
    "3(b)": "evaluates learning outcomes, including to steer the learning process",
    "3(c)": "assesses the level of education a person will receive or be able to access",
    "3(d)": "monitors and detects prohibited behaviour of students during tests",
    "4(a)": "recruitment or selection: places targeted job advertisements, analyses and filters applications, "
            "evaluates candidates",
    "4(b)": "decides on terms of work relationships, promotion or termination, allocates tasks on behaviour or "
            "traits, or monitors and evaluates workers' performance and behaviour",
    "5(a)": "used by or for public authorities to evaluate eligibility for essential public assistance benefits and "
            "services, or to grant, reduce, revoke or reclaim them",
    "5(b)": "evaluates the creditworthiness of natural persons or establishes their credit score",
    "5(c)": "risk assessment and pricing for natural persons in life and health insurance",
    "5(d)": "evaluates and classifies emergency calls, dispatches or prioritises emergency first response, or "
            "triages emergency healthcare patients",
    "6(a)": "for law enforcement: assesses the risk of a person becoming the victim of criminal offences",
    "6(b)": "for law enforcement: polygraphs or similar tools",
    "6(c)": "for law enforcement: evaluates the reliability of evidence in investigating or prosecuting offences",
    "6(d)": "for law enforcement: assesses the risk of a person offending or re-offending not solely by profiling, "
            "or assesses personality traits or past criminal behaviour",
    "6(e)": "for law enforcement: profiles people in detecting, investigating or prosecuting criminal offences",
    "7(a)": "for migration, asylum or border control: polygraphs or similar tools",
    "7(b)": "assesses a security, irregular-migration or health risk posed by a person entering or who has entered "
            "a Member State",
    "7(c)": "assists the examination of applications for asylum, visa or residence permits and related complaints",
    "7(d)": "detects, recognises or identifies people in migration, asylum or border control management",
    "8(a)": "assists a judicial authority (or alternative dispute resolution) in researching and interpreting facts "
            "and the law and applying the law to facts",
    "8(b)": "influences the outcome of an election or referendum or people's voting behaviour",
}

# The exclusions Annex III writes into a point: answer -> (point, what the system does instead).
ANNEX_III_EXCLUSIONS: dict[str, tuple[str, str]] = {
    "biometric_verification_only": ("1(a)", "only verifies that a person is who they claim to be"),
    "financial_fraud_detection": ("5(b)", "is used to detect financial fraud"),
    "travel_document_verification_only": ("7(d)", "only verifies travel documents"),
    "campaign_logistics_only": ("8(b)", "organises or structures political campaigns; people are not directly "
                                        "exposed to its output"),
}

ART_6_3_CONDITIONS: dict[str, tuple[str, str]] = {
    "narrow_procedural_task": ("Art.6(3)(a)", "performs a narrow procedural task"),
    "improves_completed_human_activity": (
        "Art.6(3)(b)",
        "improves the result of a previously completed human activity",
    ),
    "detects_patterns_without_replacing_review": (
        "Art.6(3)(c)",
        "detects decision-making patterns or deviations without replacing or influencing the previously completed "
        "human assessment without proper human review",
    ),
    "preparatory_task": ("Art.6(3)(d)", "performs a preparatory task to an assessment relevant for an Annex III use"),
}
ART_6_3_EXEMPTIONS = ART_6_3_CONDITIONS  # the name earlier code used

ART_50_TRIGGERS: dict[str, tuple[str, str]] = {
    "interacts_with_people": ("Art.50(1)", "interacts directly with natural persons: tell them it is an AI system"),
    "generates_synthetic_content": (
        "Art.50(2)",
        "generates synthetic audio, image, video or text: mark the output as AI-generated in a machine-readable way",
    ),
    "emotion_recognition_or_biometric_categorisation": (
        "Art.50(3)",
        "recognises emotions or categorises people by biometrics: inform the people exposed to it",
    ),
    "deep_fake": ("Art.50(4)", "generates or manipulates deep fakes: disclose that the content is artificial"),
    "public_interest_text": (
        "Art.50(4)",
        "generates or manipulates text published to inform the public on matters of public interest: disclose it",
    ),
}

HIGH_RISK_OBLIGATIONS: tuple[str, ...] = (
    "Art.9", "Art.10", "Art.11", "Art.12", "Art.13", "Art.14", "Art.15", "Art.17", "Art.26", "Art.72", "Art.73",
)
FRIA_POINTS: tuple[str, ...] = ("5(b)", "5(c)")  # Art. 27(1): deployers of these must assess fundamental rights
ALWAYS_APPLIES: tuple[str, ...] = ("Art.4",)
TIER_FLOOR: dict[str, str] = {"prohibited": "high", "high_risk": "high", "limited_risk": "low", "minimal_risk": "low"}


def annex_iii_article(point: str) -> str:
    """The article id a point is cited as, e.g. '5(b)' -> 'AnnexIII.5(b)'."""
    return f"AnnexIII.{point}"


class EUAnswers(BaseModel):
    """The EU AI Act questionnaire for one AI system; every flag defaults to False (not the case)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    # Art. 5(1) prohibited practices (a)-(h) and the exceptions of (f) and (h)
    manipulative_techniques: bool = False
    exploits_vulnerabilities: bool = False
    social_scoring: bool = False
    crime_prediction_profiling: bool = False
    untargeted_facial_scraping: bool = False
    emotion_recognition_work_education: bool = False
    emotion_recognition_medical_or_safety: bool = False
    biometric_categorisation_sensitive: bool = False
    realtime_remote_biometric_id_law_enforcement: bool = False
    realtime_rbi_exception: RBIException | None = None
    # Art. 6(1): Annex I products
    annex_i_product: bool = False
    annex_i_third_party_assessment: bool = False
    # Art. 6(2): Annex III points and their exclusions
    annex_iii_points: list[AnnexIIIPoint] = Field(default_factory=list, max_length=25)
    biometric_verification_only: bool = False
    financial_fraud_detection: bool = False
    travel_document_verification_only: bool = False
    campaign_logistics_only: bool = False
    # Art. 6(3) derogation, its documented assessment (Art. 6(4)), and profiling
    narrow_procedural_task: bool = False
    improves_completed_human_activity: bool = False
    detects_patterns_without_replacing_review: bool = False
    preparatory_task: bool = False
    no_significant_risk: bool = False
    art_6_3_assessment: str = Field(default="", max_length=8000)
    profiles_people: bool = False
    # Art. 50 transparency
    interacts_with_people: bool = False
    generates_synthetic_content: bool = False
    emotion_recognition_or_biometric_categorisation: bool = False
    deep_fake: bool = False
    public_interest_text: bool = False
    public_interest_text_editorial_control: bool = False
    # General-purpose AI models (Arts. 51-55)
    is_gpai_model: bool = False
    gpai_training_flops: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    gpai_high_impact_capabilities: bool = False
    gpai_designated_systemic_risk: bool = False
    gpai_free_open_source: bool = False



class AnswersError(ValueError):
    """Bad questionnaire answers: one readable message and the field it is about."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


def check_consistency(a: EUAnswers) -> None:
    """Answers that only make sense with another one; AnswersError naming the field to fix."""
    def needs(field: str, ok: bool, why: str) -> None:
        if getattr(a, field) not in (False, None, "", []) and not ok:
            raise AnswersError(f"EU AI Act answers: {field}: {why}", field)

    needs("emotion_recognition_medical_or_safety", a.emotion_recognition_work_education,
          "the Art. 5(1)(f) medical or safety exception needs emotion_recognition_work_education")
    needs("realtime_rbi_exception", a.realtime_remote_biometric_id_law_enforcement,
          "an Art. 5(1)(h) exception needs realtime_remote_biometric_id_law_enforcement")
    needs("annex_i_third_party_assessment", a.annex_i_product,
          "a third-party conformity assessment (Art. 6(1)(b)) needs annex_i_product")
    points = set(a.annex_iii_points)
    needs("annex_iii_points", len(points) == len(a.annex_iii_points), "names a point twice")
    for field, (point, _) in ANNEX_III_EXCLUSIONS.items():
        needs(field, point in points, f"is the exclusion of Annex III point {point}, which is not selected")
    needs("annex_iii_points", not (a.crime_prediction_profiling and "6(d)" in points),
          "6(d) is a risk assessment not based solely on profiling; crime_prediction_profiling says it is")
    for field in (*ART_6_3_CONDITIONS, "no_significant_risk", "art_6_3_assessment"):
        needs(field, bool(points), "Art. 6(3) applies only to a system in an Annex III point")
    claimed = any(getattr(a, f) for f in ART_6_3_CONDITIONS)
    if claimed and not a.art_6_3_assessment.strip():
        raise AnswersError("EU AI Act answers: art_6_3_assessment: is required when an Art. 6(3) condition is "
                           "claimed: the provider documents why the system is not high-risk (Art. 6(4))",
                           "art_6_3_assessment")
    needs("public_interest_text_editorial_control", a.public_interest_text,
          "the Art. 50(4) editorial-control exception needs public_interest_text")
    for field in ("gpai_training_flops", "gpai_high_impact_capabilities", "gpai_designated_systemic_risk",
                  "gpai_free_open_source"):
        needs(field, a.is_gpai_model, "applies only to a general-purpose AI model (is_gpai_model)")


@dataclass(frozen=True)
class Trigger:
    """One answer that led to the classification, with the article and point it engages."""

    answer: str
    article: str
    reason: str


@dataclass(frozen=True)
class EUClassification:
    """The EU AI Act category of a system, why, which articles apply, and the duties stacked on it."""

    category: EUCategory
    triggers: tuple[Trigger, ...]
    obligations: tuple[str, ...]
    gpai: bool = False
    gpai_systemic_risk: bool = False
    gpai_obligations: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    transparency: tuple[Trigger, ...] = ()
    gpai_triggers: tuple[Trigger, ...] = ()
    annex_iii_points: tuple[str, ...] = ()  # the points that apply (after exclusions), e.g. ("5(b)",)
    art_6_3_assessment: str = ""
    tier_floor: str = "low"


# Keys of the questionnaire before it went down to Annex III points (stored answers may still have them).
LEGACY_KEYS: tuple[str, ...] = ("annex_iii_area", "deepfake_or_public_interest_text", "gpai_systemic_risk")
LEGACY_AREAS: dict[str, str] = {
    "biometrics": "1", "critical_infrastructure": "2", "education": "3", "employment": "4",
    "essential_services": "5", "law_enforcement": "6", "migration_border": "7", "justice_democracy": "8",
}


def parse_answers(answers: EUAnswers | Mapping[str, Any]) -> EUAnswers:
    """Validate questionnaire answers; AnswersError naming the field on unknown fields, wrong types or
    contradictions."""
    if isinstance(answers, EUAnswers):
        check_consistency(answers)
        return answers
    if not isinstance(answers, Mapping):
        raise AnswersError("EU AI Act answers must be a mapping of question to answer")
    for key in LEGACY_KEYS:
        if key in answers:
            raise AnswersError(f"EU AI Act answers: {key}: {_LEGACY_HINT[key]}", key)
    try:
        parsed = EUAnswers.model_validate(dict(answers))
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = [str(p) for p in first["loc"]]
        field = loc[0] if loc else None
        where = ".".join(loc)
        msg = str(first["msg"]).removeprefix("Value error, ")
        if field == "annex_iii_points" and first["type"] == "literal_error":
            msg = f"unknown Annex III point {first.get('input')!r}; points are {', '.join(ANNEX_III_POINTS)}"
        raise AnswersError(f"EU AI Act answers: {where + ': ' if where else ''}{msg}", field) from None
    check_consistency(parsed)
    return parsed


_LEGACY_HINT = {
    "annex_iii_area": "replaced by annex_iii_points: name the Annex III point(s), e.g. [\"4(a)\"] or [\"5(b)\"]",
    "deepfake_or_public_interest_text": "replaced by deep_fake and public_interest_text",
    "gpai_systemic_risk": "replaced by gpai_training_flops (a number), gpai_high_impact_capabilities and "
                          "gpai_designated_systemic_risk",
}


def upgrade_stored(answers: Mapping[str, Any] | None) -> tuple[dict[str, Any], tuple[str, ...]]:
    """Stored answers in today's shape, and what could not be carried over (answers saved before point-level
    questions). Only the form reads this: the stored classification itself stays as it was computed."""
    out = {k: v for k, v in dict(answers or {}).items() if k in EUAnswers.model_fields}
    left: list[str] = []
    area = (answers or {}).get("annex_iii_area")
    if area:
        n = LEGACY_AREAS.get(str(area))
        points = [p for p in ANNEX_III_POINTS if n and p.split("(")[0] == n]
        if points == ["2"]:
            out["annex_iii_points"] = ["2"]
        else:
            left.append(f"answered Annex III area {str(area).replace('_', ' ')}: choose its point "
                        f"({', '.join(points) or 'none known'})")
    if (answers or {}).get("deepfake_or_public_interest_text"):
        left.append("answered 'deep fake or public-interest text': choose which of the two")
    if (answers or {}).get("gpai_systemic_risk"):
        out["gpai_designated_systemic_risk"] = True
        left.append("answered 'systemic risk' without its basis: read as a Commission designation; enter the "
                    "training compute if that is the basis")
    if out.get("annex_i_product") and "annex_i_third_party_assessment" not in (answers or {}):
        out["annex_i_third_party_assessment"] = True  # the earlier question included the third-party assessment
    return out, tuple(left)


def _flagged(answers: EUAnswers, table: Mapping[str, tuple[str, str]]) -> list[Trigger]:
    return [Trigger(name, art, reason) for name, (art, reason) in table.items() if getattr(answers, name)]


def _prohibitions(a: EUAnswers) -> tuple[list[Trigger], list[str]]:
    """Art. 5(1) practices that apply, and notes for those an exception of (f) or (h) lifts."""
    hits, notes = [], []
    for t in _flagged(a, PROHIBITED_PRACTICES):
        if t.answer == "emotion_recognition_work_education" and a.emotion_recognition_medical_or_safety:
            notes.append("Art.5(1)(f) does not apply: emotion recognition at work or in education is put in place "
                         "for medical or safety reasons")
        elif t.answer == "realtime_remote_biometric_id_law_enforcement" and a.realtime_rbi_exception:
            art, why = RBI_EXCEPTIONS[a.realtime_rbi_exception]
            notes.append(f"Art.5(1)(h) does not apply: use strictly necessary for {art} ({why}); Art.5(2) requires "
                         "prior authorisation, a fundamental rights impact assessment and registration")
        else:
            hits.append(t)
    return hits, notes


def _transparency(a: EUAnswers, points: set[str]) -> tuple[list[Trigger], list[str]]:
    """Art. 50 duties: the answers, plus Art. 50(3) implied by emotion recognition or biometric categorisation."""
    hits, notes = [], []
    for t in _flagged(a, ART_50_TRIGGERS):
        if t.answer == "public_interest_text" and a.public_interest_text_editorial_control:
            notes.append("Art.50(4) public-interest text: no disclosure duty, the text undergoes human review or "
                         "editorial control and a person holds editorial responsibility")
        else:
            hits.append(t)
    if not a.emotion_recognition_or_biometric_categorisation:
        implied = sorted(points & {"1(b)", "1(c)"})
        if a.emotion_recognition_work_education and a.emotion_recognition_medical_or_safety:
            implied.append("Art.5(1)(f) exception")
        if implied:
            answer = "annex_iii_points" if implied[0] in points else "emotion_recognition_work_education"
            hits.append(Trigger(answer, "Art.50(3)", "recognises emotions or categorises people by biometrics "
                                                     f"({', '.join(implied)}): inform the people exposed to it"))
    return hits, notes


def _gpai(a: EUAnswers) -> tuple[list[Trigger], tuple[str, ...], bool]:
    """GPAI triggers, obligations and whether the model has systemic risk (Art. 51)."""
    if not a.is_gpai_model:
        return [], (), False
    hits: list[Trigger] = []
    if a.gpai_training_flops is not None and a.gpai_training_flops > SYSTEMIC_RISK_FLOPS:
        hits.append(Trigger("gpai_training_flops", "Art.51(2)",
                            f"trained with {a.gpai_training_flops:.3g} FLOPs, more than 10^25: presumed to have "
                            "high-impact capabilities"))
    if a.gpai_high_impact_capabilities:
        hits.append(Trigger("gpai_high_impact_capabilities", "Art.51(1)(a)", "has high-impact capabilities"))
    if a.gpai_designated_systemic_risk:
        hits.append(Trigger("gpai_designated_systemic_risk", "Art.51(1)(b)",
                            "designated by the Commission as a model with systemic risk"))
    systemic = bool(hits)
    if systemic:
        obligations: tuple[str, ...] = ("Art.53", "Art.55")
        if a.gpai_training_flops is not None and a.gpai_training_flops > SYSTEMIC_RISK_FLOPS or \
                a.gpai_high_impact_capabilities:
            obligations = ("Art.52(1)", *obligations)  # notify the Commission within two weeks
    elif a.gpai_free_open_source:
        obligations = ("Art.53(1)(c)", "Art.53(1)(d)")
        hits.append(Trigger("gpai_free_open_source", "Art.53(2)",
                            "free and open-source model without systemic risk: only the copyright policy and the "
                            "training content summary apply"))
    else:
        obligations = ("Art.53",)
    return [Trigger("is_gpai_model", "Art.53", "is a general-purpose AI model"), *hits], obligations, systemic


def classify(answers: EUAnswers | Mapping[str, Any]) -> EUClassification:
    """Classify a system under the EU AI Act (see the module's order); transparency and GPAI duties stack."""
    a = parse_answers(answers)
    selected = list(a.annex_iii_points)
    excluded = {point: (field, why) for field, (point, why) in ANNEX_III_EXCLUSIONS.items() if getattr(a, field)}
    points = [p for p in selected if p not in excluded]
    notes = [f"{annex_iii_article(p)} does not apply: the system {excluded[p][1]} (answer {excluded[p][0]})"
             for p in selected if p in excluded]
    transparency, t_notes = _transparency(a, set(points))
    notes.extend(t_notes)
    gpai_triggers, gpai_obligations, systemic = _gpai(a)
    common: dict[str, Any] = {
        "gpai": a.is_gpai_model, "gpai_systemic_risk": systemic, "gpai_obligations": gpai_obligations,
        "transparency": tuple(transparency), "gpai_triggers": tuple(gpai_triggers),
        "annex_iii_points": tuple(points), "art_6_3_assessment": a.art_6_3_assessment.strip(),
    }
    transparency_ids = tuple(dict.fromkeys(t.article for t in transparency))

    prohibited, p_notes = _prohibitions(a)
    notes.extend(p_notes)
    if prohibited:
        if points or (a.annex_i_product and a.annex_i_third_party_assessment):
            notes.append("also matches a high-risk rule, but a prohibited practice may not be placed on the market "
                         "or used at all")
        return EUClassification(category="prohibited", triggers=tuple(prohibited),
                                obligations=ALWAYS_APPLIES + tuple(t.article for t in prohibited),
                                notes=tuple(notes), tier_floor=TIER_FLOOR["prohibited"], **common)

    triggers: list[Trigger] = []
    if a.annex_i_product and a.annex_i_third_party_assessment:
        triggers.append(Trigger("annex_i_product", "Art.6(1)",
                                "is, or is a safety component of, a product under Annex I legislation that needs a "
                                "third-party conformity assessment"))
    elif a.annex_i_product:
        notes.append("Art.6(1) does not apply: the Annex I product needs no third-party conformity assessment "
                     "(Art.6(1)(b))")
    extra: tuple[str, ...] = ()
    if points:
        point_triggers = [Trigger("annex_iii_points", annex_iii_article(p), ANNEX_III_POINTS[p]) for p in points]
        conditions = _flagged(a, ART_6_3_CONDITIONS)
        if conditions and a.profiles_people:
            triggers += point_triggers + [Trigger("profiles_people", "Art.6(3)",
                                                  "profiles natural persons, so it is always high-risk and no "
                                                  "Art. 6(3) condition can lift it")]
        elif conditions and not a.no_significant_risk:
            triggers += point_triggers + [Trigger("no_significant_risk", "Art.6(3)",
                                                  "an Art. 6(3) condition is claimed, but not that the system poses "
                                                  "no significant risk of harm to health, safety or fundamental "
                                                  "rights")]
        elif conditions:
            notes.append(f"{', '.join(annex_iii_article(p) for p in points)} not high-risk under Art.6(3): "
                         + "; ".join(f"{c.article} {c.reason}" for c in conditions)
                         + ". Document the assessment before placing on the market and register the system "
                           "(Art.6(4), Art.49(2))")
            extra = ("Art.6(4)",)
            if not triggers:
                triggers_63 = tuple(conditions)
                category: EUCategory = "limited_risk" if transparency else "minimal_risk"
                return EUClassification(category=category, triggers=triggers_63 + tuple(transparency),
                                        obligations=ALWAYS_APPLIES + extra + transparency_ids, notes=tuple(notes),
                                        tier_floor=TIER_FLOOR[category], **{**common, "annex_iii_points": ()})
            common["annex_iii_points"] = ()
        else:
            triggers += point_triggers
            if a.no_significant_risk:
                notes.append("no_significant_risk alone does not lift Annex III: Art.6(3) also needs one of the "
                             "conditions (a)-(d)")
    if triggers:
        fria = ("Art.27",) if set(common["annex_iii_points"]) & set(FRIA_POINTS) else ()
        return EUClassification(category="high_risk", triggers=tuple(triggers),
                                obligations=ALWAYS_APPLIES + HIGH_RISK_OBLIGATIONS + fria + extra + transparency_ids,
                                notes=tuple(notes), tier_floor=TIER_FLOOR["high_risk"], **common)
    category = "limited_risk" if transparency else "minimal_risk"
    return EUClassification(category=category, triggers=tuple(transparency),
                            obligations=ALWAYS_APPLIES + transparency_ids, notes=tuple(notes),
                            tier_floor=TIER_FLOOR[category], **common)


def questions() -> list[tuple[str, list[tuple[str, str]]]]:
    """The yes/no questions in the Act's order, by section, each labelled with its article: for forms."""
    def label(table: Mapping[str, tuple[str, str]], name: str) -> str:
        art, reason = table[name]
        return f"{art}: {reason}"

    return [
        ("Prohibited practices (Art. 5)", [
            *[(n, label(PROHIBITED_PRACTICES, n)) for n in list(PROHIBITED_PRACTICES)[:6]],
            ("emotion_recognition_medical_or_safety", "Art.5(1)(f) exception: for medical or safety reasons"),
            *[(n, label(PROHIBITED_PRACTICES, n)) for n in list(PROHIBITED_PRACTICES)[6:]],
        ]),
        ("Annex I products (Art. 6(1))", [
            ("annex_i_product", "Art.6(1)(a): is, or is a safety component of, a product under Annex I legislation"),
            ("annex_i_third_party_assessment", "Art.6(1)(b): that product needs a third-party conformity assessment"),
        ]),
        ("Annex III exclusions", [(n, f"{annex_iii_article(p)} exclusion: the system {why}")
                                  for n, (p, why) in ANNEX_III_EXCLUSIONS.items()]),
        ("Art. 6(3) derogation", [
            *[(n, label(ART_6_3_CONDITIONS, n)) for n in ART_6_3_CONDITIONS],
            ("no_significant_risk", "Art.6(3): poses no significant risk of harm to health, safety or fundamental "
                                    "rights, including by not materially influencing decisions"),
            ("profiles_people", "Art.6(3): profiles natural persons (always high-risk)"),
        ]),
        ("Transparency (Art. 50)", [
            *[(n, label(ART_50_TRIGGERS, n)) for n in ART_50_TRIGGERS],
            ("public_interest_text_editorial_control", "Art.50(4) exception: the text undergoes human review or "
                                                       "editorial control under a person's editorial responsibility"),
        ]),
        ("General-purpose AI model (Arts. 51-55)", [
            ("is_gpai_model", "Art.53: is a general-purpose AI model"),
            ("gpai_high_impact_capabilities", "Art.51(1)(a): has high-impact capabilities"),
            ("gpai_designated_systemic_risk", "Art.51(1)(b): designated by the Commission as having systemic risk"),
            ("gpai_free_open_source", "Art.53(2): released under a free and open-source licence"),
        ]),
    ]


def rbi_exception_choices() -> list[tuple[str, str]]:
    """(value, label) of the Art. 5(1)(h) exceptions, for forms."""
    return [(k, f"{art}: {why}") for k, (art, why) in RBI_EXCEPTIONS.items()]


def _check_tables() -> None:
    """The tables and the typed answers agree (a point or field added in one place only is a bug)."""
    assert list(ANNEX_III_POINTS) == list(get_args(AnnexIIIPoint))
    assert set(RBI_EXCEPTIONS) == set(get_args(RBIException))
    fields = set(EUAnswers.model_fields)
    for table in (PROHIBITED_PRACTICES, ANNEX_III_EXCLUSIONS, ART_6_3_CONDITIONS, ART_50_TRIGGERS):
        assert set(table) <= fields


_check_tables()

"""Value / feasibility / risk scoring of use cases, the priority formula, ranking and recommendation.

Over ~400 lines on purpose: the seed's Prioritize section as one pure rule set (lenses, aggregate, priority,
ranking, recommendation).

Pure functions, no I/O. The seed's "2) Prioritize" section is the spec:

* three lenses scored 1-5, each broken into the seed's criteria (see ``LENS_CRITERIA``); every criterion is
  scored so that 5 means *more of the lens*: more value, easier to do (5 = simple integration, short time to
  ship), more risk;
* several scorers per use case; the portfolio uses the median per lens and shows the disagreement;
* the priority formula (documented on ``priority_breakdown``) and a ranking;
* "choose 1 to 2 near-term use cases and 1 longer-term use case" (``recommend``);
* "scale the workflows you already run at high volume" (monthly task volume breaks ties);
* scores are dated, so ``quarterly_history`` shows quarter-over-quarter movement.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from datetime import date
from numbers import Real
from collections.abc import Mapping, Sequence

import numpy as np

VALUE_CRITERIA: tuple[str, ...] = (
    "revenue_lift",
    "cost_reduction",
    "risk_reduction",
    "customer_experience",
    "cycle_time",
)
FEASIBILITY_CRITERIA: tuple[str, ...] = (
    "data_availability",
    "workflow_clarity",
    "integration_complexity",
    "time_to_ship",
)
RISK_CRITERIA: tuple[str, ...] = (
    "harm_if_wrong",
    "regulatory_exposure",
    "security_impact",
    "reputational_risk",
)
LENSES: tuple[str, ...] = ("value", "feasibility", "risk")
LENS_CRITERIA: dict[str, tuple[str, ...]] = {
    "value": VALUE_CRITERIA,
    "feasibility": FEASIBILITY_CRITERIA,
    "risk": RISK_CRITERIA,
}
_LENS_OF: dict[str, str] = {c: lens for lens, crits in LENS_CRITERIA.items() for c in crits}

SCORE_MIN = 1.0
SCORE_MAX = 5.0
# A lens whose scorers are 2+ points apart is worth a conversation before the ranking is trusted.
CONTESTED_SPREAD = 2.0

# Recommendation rules (see ``recommend``).
NEAR_TERM_MAX = 2
NEAR_TERM_MIN_FEASIBILITY = 3.0
NEAR_TERM_MAX_RISK = 3.0
NEAR_TERM_MIN_PRIORITY = 20.0  # a middling 3/3/3 use case scores 21.6; below that a quick win is not worth it
LONG_TERM_MIN_VALUE = 4.0
LOW_MONTHLY_VOLUME = 100  # "low-volume workflows rarely pay for the operational overhead"

PRIORITY_FORMULA = "priority = round(100 × value × feasibility × (6 − risk) / 125, 1) + 0.01 × min(log10(1 + monthly volume), 9)"

LensInput = float | int | Mapping[str, float | int]


def _is_number(x: object) -> bool:
    return isinstance(x, Real) and not isinstance(x, bool) and math.isfinite(float(x))


def _check_score(x: object, what: str) -> float:
    if not _is_number(x):
        raise ValueError(f"{what} must be a number from 1 to 5, got {x!r}")
    v = float(x)  # type: ignore[arg-type]
    if not SCORE_MIN <= v <= SCORE_MAX:
        raise ValueError(f"{what} must be from 1 to 5, got {x!r}")
    return v


def _fmt(x: float) -> str:
    """Show 4.0 as '4' and 3.25 as '3.25' so formulas read like the seed's table."""
    return f"{x:g}" if abs(x) < 1e15 else str(x)


def lens_score(criteria: Mapping[str, float | int], lens: str | None = None) -> float:
    """Mean of the criteria a scorer rated for one lens; unrated criteria are 'not applicable'.

    The lens is inferred from the criterion names when not given; mixing lenses is refused.
    """
    if not isinstance(criteria, Mapping) or not criteria:
        raise ValueError("criteria must be a non-empty mapping of criterion name to a 1-5 score")
    if lens is not None and lens not in LENS_CRITERIA:
        raise ValueError(f"unknown lens {lens!r}; expected one of {', '.join(LENSES)}")
    seen_lenses: set[str] = set()
    values: list[float] = []
    for name, raw in criteria.items():
        if not isinstance(name, str) or name not in _LENS_OF:
            allowed = ", ".join(LENS_CRITERIA[lens]) if lens else ", ".join(_LENS_OF)
            raise ValueError(f"unknown criterion {name!r}; expected one of {allowed}")
        if lens is not None and _LENS_OF[name] != lens:
            raise ValueError(
                f"criterion {name!r} belongs to the {_LENS_OF[name]} lens, not {lens}; "
                f"expected one of {', '.join(LENS_CRITERIA[lens])}"
            )
        seen_lenses.add(_LENS_OF[name])
        values.append(_check_score(raw, f"criterion {name!r}"))
    if len(seen_lenses) > 1:
        raise ValueError(f"criteria mix lenses ({', '.join(sorted(seen_lenses))}); score one lens at a time")
    return sum(values) / len(values)


def _lens_value(raw: LensInput, lens: str, scorer: str) -> float:
    if isinstance(raw, Mapping):
        return lens_score(raw, lens)
    return _check_score(raw, f"{lens} score from {scorer!r}")


@dataclass(frozen=True)
class ScoreInput:
    """One scorer's dated scores for one use case; each lens is a 1-5 number or a dict of criteria."""

    scorer: str
    value: LensInput
    feasibility: LensInput
    risk: LensInput
    scored_on: date | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.scorer, str) or not self.scorer.strip():
            raise ValueError("scorer must be a non-empty name")
        if self.scored_on is not None and not isinstance(self.scored_on, date):
            raise ValueError(f"scored_on must be a date, got {self.scored_on!r}")
        for lens in LENSES:
            _lens_value(getattr(self, lens), lens, self.scorer)  # validate now, so bad input never travels

    def lens(self, lens: str) -> float:
        """This scorer's 1-5 score for one lens."""
        return _lens_value(getattr(self, lens), lens, self.scorer)


@dataclass(frozen=True)
class Disagreement:
    """How far apart the scorers are on one lens."""

    low: float
    high: float
    spread: float  # max − min: readable with 3-5 scorers
    iqr: float  # interquartile range: robust to one outlier when many score
    contested: bool  # spread >= CONTESTED_SPREAD


@dataclass(frozen=True)
class Aggregate:
    """Median per lens across scorers, with their disagreement and who scored."""

    value: float
    feasibility: float
    risk: float
    disagreement: dict[str, Disagreement]
    scorers: int
    scorer_names: tuple[str, ...]

    @property
    def contested_lenses(self) -> tuple[str, ...]:
        """Lenses where scorers disagree by CONTESTED_SPREAD points or more."""
        return tuple(lens for lens in LENSES if self.disagreement[lens].contested)


def aggregate(scores: Sequence[ScoreInput]) -> Aggregate:
    """Median per lens across scorers, with disagreement (range and IQR); a scorer's latest score counts once."""
    if isinstance(scores, (str, bytes)) or not isinstance(scores, Sequence) or not scores:
        raise ValueError("scores must be a non-empty list of ScoreInput")
    latest: dict[str, tuple[int, ScoreInput]] = {}
    for i, s in enumerate(scores):
        if not isinstance(s, ScoreInput):
            raise ValueError(f"scores[{i}] must be a ScoreInput, got {type(s).__name__}")
        key = s.scorer.strip()
        prev = latest.get(key)
        # A re-score replaces the earlier one: the later date wins, and on equal dates the later entry.
        if prev is None or (s.scored_on or date.min) >= (prev[1].scored_on or date.min):
            latest[key] = (i, s)
    chosen = [s for _, s in sorted(latest.values(), key=lambda t: t[0])]
    medians: dict[str, float] = {}
    spread: dict[str, Disagreement] = {}
    for lens in LENSES:
        vals = [s.lens(lens) for s in chosen]
        medians[lens] = float(statistics.median(vals))
        q1, q3 = np.percentile(vals, [25, 75])
        lo, hi = min(vals), max(vals)
        spread[lens] = Disagreement(
            low=lo, high=hi, spread=hi - lo, iqr=float(q3 - q1), contested=(hi - lo) >= CONTESTED_SPREAD
        )
    return Aggregate(
        value=medians["value"],
        feasibility=medians["feasibility"],
        risk=medians["risk"],
        disagreement=spread,
        scorers=len(chosen),
        scorer_names=tuple(s.scorer.strip() for s in chosen),
    )


def quarter_of(when: date) -> str:
    """Calendar quarter label such as '2026-Q4', the unit of portfolio re-scoring."""
    if not isinstance(when, date):
        raise ValueError(f"quarter_of needs a date, got {when!r}")
    return f"{when.year}-Q{(when.month - 1) // 3 + 1}"


def quarterly_history(scores: Sequence[ScoreInput]) -> dict[str, Aggregate]:
    """Aggregate per quarter (oldest first) so a use case's re-scores show quarter over quarter."""
    if isinstance(scores, (str, bytes)) or not isinstance(scores, Sequence) or not scores:
        raise ValueError("scores must be a non-empty list of ScoreInput")
    by_quarter: dict[str, list[ScoreInput]] = {}
    for i, s in enumerate(scores):
        if not isinstance(s, ScoreInput):
            raise ValueError(f"scores[{i}] must be a ScoreInput, got {type(s).__name__}")
        if s.scored_on is None:
            raise ValueError(f"scores[{i}] from {s.scorer!r} has no scored_on date; history needs dated scores")
        by_quarter.setdefault(quarter_of(s.scored_on), []).append(s)
    return {q: aggregate(by_quarter[q]) for q in sorted(by_quarter)}


@dataclass(frozen=True)
class Priority:
    """A priority score and how it was computed."""

    score: float
    base: float
    volume_bonus: float
    formula: str


def _check_volume(monthly_volume: object) -> float | None:
    if monthly_volume is None:
        return None
    if not _is_number(monthly_volume) or float(monthly_volume) < 0:  # type: ignore[arg-type]
        raise ValueError(f"monthly_volume must be a number of tasks >= 0, got {monthly_volume!r}")
    return float(monthly_volume)  # type: ignore[arg-type]


def priority_breakdown(
    value: float, feasibility: float, risk: float, monthly_volume: float | None = None
) -> Priority:
    """Priority 0.8-100 from the three lenses; monthly volume only breaks ties.

    base = round(100 × value × feasibility × (6 − risk) / 125, 1)

    * Value and feasibility raise it, risk lowers it: (6 − risk) turns risk 1-5 into "safety" 5-1, and 125 = 5³
      scales the best case (5, 5, 1) to 100.
    * A product, not a sum: a use case is only as good as its weakest lens, so a 5 in value cannot buy back a 2
      in feasibility and a 5 in risk (the seed's credit decision automation: 5/2/5 → 8.0, last).
    * volume bonus = 0.01 × min(log10(1 + monthly volume), 9): 0.01 per tenfold of monthly tasks, at most 0.09,
      always below the base's 0.1 step, so volume reorders only use cases whose lens scores tie
      ("scale the workflows you already run at high volume").
    """
    v = _check_score(value, "value")
    f = _check_score(feasibility, "feasibility")
    r = _check_score(risk, "risk")
    vol = _check_volume(monthly_volume)
    base = round(100.0 * v * f * (6.0 - r) / 125.0, 1)
    bonus = 0.0 if vol is None else round(0.01 * min(math.log10(1.0 + vol), 9.0), 4)
    score = round(base + bonus, 4)
    formula = f"100 × {_fmt(v)} × {_fmt(f)} × (6 − {_fmt(r)}) / 125 = {base:.1f}"
    if vol is not None:
        formula += f"; + 0.01 × log10(1 + {vol:,.0f}) = {bonus:.4f} for volume; = {score:.4f}"
    return Priority(score=score, base=base, volume_bonus=bonus, formula=formula)


def priority(value: float, feasibility: float, risk: float, monthly_volume: float | None = None) -> float:
    """Priority score (see ``priority_breakdown`` for the documented formula)."""
    return priority_breakdown(value, feasibility, risk, monthly_volume).score


@dataclass(frozen=True)
class RankItem:
    """A use case's aggregated lens scores (1-5) and monthly task volume, the input to ranking."""

    use_case: str
    value: float
    feasibility: float
    risk: float
    monthly_volume: float | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.use_case, str) or not self.use_case.strip():
            raise ValueError("use_case must be a non-empty name")
        _check_score(self.value, f"value of {self.use_case!r}")
        _check_score(self.feasibility, f"feasibility of {self.use_case!r}")
        _check_score(self.risk, f"risk of {self.use_case!r}")
        _check_volume(self.monthly_volume)

    @classmethod
    def from_aggregate(cls, use_case: str, agg: Aggregate, monthly_volume: float | None = None) -> RankItem:
        """Build a rank item from scorers' medians."""
        if not isinstance(agg, Aggregate):
            raise ValueError("agg must be an Aggregate")
        return cls(use_case, agg.value, agg.feasibility, agg.risk, monthly_volume)


@dataclass(frozen=True)
class Ranked:
    """A use case's place in the ranking."""

    position: int
    item: RankItem
    priority: Priority

    @property
    def use_case(self) -> str:
        return self.item.use_case

    @property
    def score(self) -> float:
        return self.priority.score


def rank(items: Sequence[RankItem]) -> list[Ranked]:
    """Use cases by priority, highest first; equal scores fall back to name so the order is stable."""
    if isinstance(items, (str, bytes)) or not isinstance(items, Sequence):
        raise ValueError("items must be a list of RankItem")
    names: set[str] = set()
    for i, it in enumerate(items):
        if not isinstance(it, RankItem):
            raise ValueError(f"items[{i}] must be a RankItem, got {type(it).__name__}")
        if it.use_case in names:
            raise ValueError(f"use case {it.use_case!r} appears twice; aggregate its scores first")
        names.add(it.use_case)
    scored = [(it, priority_breakdown(it.value, it.feasibility, it.risk, it.monthly_volume)) for it in items]
    scored.sort(key=lambda t: (-t[1].score, t[0].use_case))
    return [Ranked(position=i + 1, item=it, priority=p) for i, (it, p) in enumerate(scored)]


@dataclass(frozen=True)
class Recommendation:
    """The seed's "1 to 2 near-term use cases and 1 longer-term use case", each with its reasons."""

    near_term: list[str]
    long_term: str | None
    reasons: dict[str, list[str]]  # for every ranked use case, chosen or not
    ranking: list[Ranked]
    notes: list[str] = field(default_factory=list)


def _near_term_blockers(r: Ranked) -> list[str]:
    it = r.item
    out = []
    if it.feasibility < NEAR_TERM_MIN_FEASIBILITY:
        out.append(
            f"feasibility {_fmt(it.feasibility)} < {_fmt(NEAR_TERM_MIN_FEASIBILITY)}: "
            "data, workflow or integration work comes first"
        )
    if it.risk > NEAR_TERM_MAX_RISK:
        out.append(
            f"risk {_fmt(it.risk)} > {_fmt(NEAR_TERM_MAX_RISK)}: needs governance first "
            "(risk-tier approvals, explainability, human oversight)"
        )
    if r.priority.base < NEAR_TERM_MIN_PRIORITY:
        out.append(f"priority {r.priority.base:.1f} < {_fmt(NEAR_TERM_MIN_PRIORITY)}: too little return for a quick win")
    return out


def recommend(items: Sequence[RankItem]) -> Recommendation:
    """Pick 1-2 near-term use cases and 1 longer-term one from the ranking, with reasons.

    * near-term: the top ``NEAR_TERM_MAX`` by priority among use cases that can ship now: feasibility >= 3,
      risk <= 3 and priority >= 20 (quick wins);
    * longer-term: among the rest, the highest value (>= 4), ties by priority: a strategic bet whose reasons say
      what must happen first (feasibility work, governance).
    """
    ranking = rank(items)
    if not ranking:
        raise ValueError("recommend needs at least one use case")
    n = len(ranking)
    reasons: dict[str, list[str]] = {}
    near: list[str] = []
    notes: list[str] = []
    for r in ranking:
        it = r.item
        why = [f"rank {r.position} of {n}: priority {r.priority.formula}"]
        if it.monthly_volume is not None:
            why.append(f"monthly volume {it.monthly_volume:,.0f} tasks")
            if it.monthly_volume < LOW_MONTHLY_VOLUME:
                why.append(f"volume below {LOW_MONTHLY_VOLUME}/month: may not pay for its operational overhead")
        blockers = _near_term_blockers(r)
        if not blockers and len(near) < NEAR_TERM_MAX:
            near.append(it.use_case)
            why.append(
                f"near-term: feasibility {_fmt(it.feasibility)} >= {_fmt(NEAR_TERM_MIN_FEASIBILITY)} and "
                f"risk {_fmt(it.risk)} <= {_fmt(NEAR_TERM_MAX_RISK)}, so it can ship now with proportionate governance"
            )
        elif not blockers:
            why.append(f"qualifies as a quick win but {NEAR_TERM_MAX} higher-priority use cases come first")
        else:
            why.extend(blockers)
        reasons[it.use_case] = why

    candidates = [r for r in ranking if r.use_case not in near and r.item.value >= LONG_TERM_MIN_VALUE]
    candidates.sort(key=lambda r: (-r.item.value, r.position))
    long_term = candidates[0].use_case if candidates else None
    if long_term is not None:
        lt = candidates[0]
        then = (
            "a strategic bet to prepare now and ship once the blockers above are cleared"
            if _near_term_blockers(lt)
            else "next in line once the near-term use cases ship"
        )
        reasons[long_term].append(
            f"longer-term: value {_fmt(lt.item.value)} is the highest outside the near term; {then}"
        )
    else:
        notes.append(f"no longer-term bet: no other use case has value >= {_fmt(LONG_TERM_MIN_VALUE)}")
    if not near:
        notes.append(
            f"no near-term pick: none has feasibility >= {_fmt(NEAR_TERM_MIN_FEASIBILITY)}, "
            f"risk <= {_fmt(NEAR_TERM_MAX_RISK)} and priority >= {_fmt(NEAR_TERM_MIN_PRIORITY)}"
        )
    return Recommendation(near_term=near, long_term=long_term, reasons=reasons, ranking=ranking, notes=notes)

"""A queue's rubric (pure): named scores on a scale (1-5, 0-1, ...), labels to pick, free text; and the check of a
submitted review against it. Errors are ValueError("<field>: <message>") so every edge names the field."""
from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
MAX_SCORES = 10
MAX_LABELS = 30
MAX_COMMENT = 4000


@dataclass(frozen=True)
class Score:
    """One named score on a whole-number scale from `min` to `max` (1-5 stars, 0-1 pass/fail)."""

    name: str
    min: int
    max: int
    description: str = ""


@dataclass(frozen=True)
class Rubric:
    """What a reviewer fills in: every score, any of the labels, and free text when `free_text`."""

    scores: tuple[Score, ...]
    labels: tuple[str, ...]
    free_text: bool

    def view(self) -> dict[str, Any]:
        """The rubric as stored and answered."""
        return {"scores": [{"name": s.name, "min": s.min, "max": s.max, "description": s.description}
                           for s in self.scores], "labels": list(self.labels), "free_text": self.free_text}


def _bad(field: str, message: str) -> ValueError:
    return ValueError(f"{field}: {message}")


def _whole(v: Any, field: str) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v != int(v):
        raise _bad(field, "a whole number")
    return int(v)


def make_rubric(raw: Mapping[str, Any]) -> Rubric:
    """A rubric from its stored or submitted form; ValueError naming the first bad field (`rubric.scores[0].max`)."""
    scores_raw = raw.get("scores") or []
    labels_raw = raw.get("labels") or []
    if not isinstance(scores_raw, Sequence) or isinstance(scores_raw, (str, bytes)) or len(scores_raw) > MAX_SCORES:
        raise _bad("rubric.scores", f"a list of at most {MAX_SCORES} scores")
    if not isinstance(labels_raw, Sequence) or isinstance(labels_raw, (str, bytes)) or len(labels_raw) > MAX_LABELS:
        raise _bad("rubric.labels", f"a list of at most {MAX_LABELS} labels")
    scores: list[Score] = []
    for i, s in enumerate(scores_raw):
        f = f"rubric.scores[{i}]"
        if not isinstance(s, Mapping):
            raise _bad(f, "an object with name, min and max")
        name = s.get("name")
        if not isinstance(name, str) or not NAME.match(name):
            raise _bad(f"{f}.name", "lower-case letters, digits and _ (at most 40, starting with a letter)")
        if any(x.name == name for x in scores):
            raise _bad(f"{f}.name", f"'{name}' is named twice")
        lo, hi = _whole(s.get("min"), f"{f}.min"), _whole(s.get("max"), f"{f}.max")
        if not 0 <= lo < hi <= 100:
            raise _bad(f"{f}.max", "a scale from min to max with 0 <= min < max <= 100 (e.g. 1-5 or 0-1)")
        desc = s.get("description") or ""
        if not isinstance(desc, str) or len(desc) > 300:
            raise _bad(f"{f}.description", "text of at most 300 characters")
        scores.append(Score(name, lo, hi, desc))
    labels: list[str] = []
    for i, label in enumerate(labels_raw):
        if not isinstance(label, str) or not NAME.match(label):
            raise _bad(f"rubric.labels[{i}]", "lower-case letters, digits and _ (at most 40, starting with a letter)")
        if label in labels:
            raise _bad(f"rubric.labels[{i}]", f"'{label}' is listed twice")
        labels.append(label)
    free_text = raw.get("free_text", True)
    if not isinstance(free_text, bool):
        raise _bad("rubric.free_text", "true or false")
    if not scores and not labels:
        raise _bad("rubric.scores", "a rubric needs at least one score or one label")
    return Rubric(tuple(scores), tuple(labels), free_text)


def check_review(rubric: Rubric, scores: Mapping[str, Any], labels: Sequence[str], comment: str) -> dict[str, int]:
    """The review's scores as whole numbers when it fills the rubric: every score given, on its scale; labels from
    the rubric; free text only where the rubric asks for it. ValueError naming the field otherwise."""
    known = {s.name for s in rubric.scores}
    extra = sorted(set(scores) - known)
    if extra:
        raise _bad(f"scores.{extra[0]}", f"not a score of this rubric ({', '.join(sorted(known)) or 'none'})")
    out: dict[str, int] = {}
    for s in rubric.scores:
        if s.name not in scores or scores[s.name] is None:
            raise _bad(f"scores.{s.name}", f"required, from {s.min} to {s.max}")
        v = scores[s.name]
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v != int(v) \
                or not s.min <= v <= s.max:
            raise _bad(f"scores.{s.name}", f"a whole number from {s.min} to {s.max}, got {str(v)[:20]}")
        out[s.name] = int(v)
    for i, label in enumerate(labels):
        if label not in rubric.labels:
            raise _bad(f"labels[{i}]", f"'{str(label)[:40]}' is not a label of this rubric")
    if len(set(labels)) != len(labels):
        raise _bad("labels", "a label is picked twice")
    if comment and not rubric.free_text:
        raise _bad("comment", "this rubric takes no free text")
    if len(comment) > MAX_COMMENT:
        raise _bad("comment", f"at most {MAX_COMMENT} characters")
    return out


def score_name(rubric_score: str) -> str:
    """The quality score a rubric score becomes in the rollups (metric quality_review_<name>)."""
    return f"review_{rubric_score}"

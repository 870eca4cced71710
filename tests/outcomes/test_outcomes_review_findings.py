"""Quarterly review rules with audit findings: their titles become the reasons to revisit governance."""
from __future__ import annotations

import pytest

from takeoff.outcomes.review import UseCaseFacts, suggest_actions


def test_finding_titles_are_the_reasons_to_revisit_governance():
    facts = UseCaseFacts("credit decisions", "pilot", 45.0, audit_findings=2,
                         finding_titles=("Declines lack reason codes (critical, control TK-HO-01, open)",
                                         "Model card out of date (low, closed)"))
    actions = suggest_actions([facts])
    gov = next(a for a in actions if a.action == "revisit_governance")
    assert gov.reasons[0].startswith("2 audit finding(s) open during the quarter")
    assert gov.reasons[1:] == ["audit finding: Declines lack reason codes (critical, control TK-HO-01, open)",
                               "audit finding: Model card out of date (low, closed)"]


def test_no_findings_no_governance_action():
    actions = suggest_actions([UseCaseFacts("x", "production", 45.0, adoption_trend=0.0)])
    assert [a.action for a in actions] == ["keep"]


@pytest.mark.parametrize("kwargs", [
    dict(audit_findings=1, finding_titles=("a", "b")),  # more titles than findings
    dict(audit_findings=1, finding_titles=["a"]),  # not a tuple
    dict(audit_findings=1, finding_titles=("  ",)),
])
def test_bad_finding_titles_are_refused(kwargs):
    with pytest.raises(ValueError, match="finding"):
        UseCaseFacts("x", "pilot", 30.0, **kwargs)

"""An admin-loaded framework maps its items onto takeoff controls (`takeoff_controls`), and coverage per use case
is computed for it exactly as for the built-in frameworks."""
from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from takeoff.core.db import transaction
from takeoff.governance import frameworks
from takeoff.governance.models import FrameworkRecord

# TK-INTAKE-01 applies to every tier; TK-HO-01 (human oversight) only to medium and high tiers and EU high-risk use cases.
CUSTOM = """id: acme-ai-policy
name: ACME AI policy
version: "2025.1"
publisher: ACME
assessable_kinds: [rule]
items:
  - id: P1
    kind: principle
    title: Know what you run
    children:
      - id: P1.1
        kind: rule
        title: Register every AI system
        takeoff_controls: [TK-INTAKE-01]
      - id: P1.2
        kind: rule
        title: A person can stop the system
        takeoff_controls: [TK-HO-01]
  - id: P2
    kind: principle
    title: Things takeoff does not do
    children:
      - {id: P2.1, kind: rule, title: Board approves the AI strategy}
"""


def _intake(key: str, tier: str) -> dict:
    return {"key": key, "name": key, "purpose": "p", "data_sources": ["d"], "expected_users": 1, "risk_tier": tier}


def test_library_has_the_controls_this_file_names() -> None:
    ids = {c.id for c in frameworks.load_controls()}
    assert {"TK-INTAKE-01", "TK-HO-01"} <= ids
    high_only = next(c for c in frameworks.load_controls() if c.id == "TK-HO-01")
    assert "low" not in high_only.tiers and "high" in high_only.tiers


def test_pure_mapping_and_coverage(tmp_path: Path) -> None:
    path = tmp_path / "acme.yaml"
    path.write_text(CUSTOM)
    lib = frameworks.load_controls()
    fw = frameworks.load_framework(path, control_ids=[c.id for c in lib])
    assert fw.item("P1.2").takeoff_controls == ("TK-HO-01",)
    mapped = frameworks.with_framework_mappings(lib, {fw.id: fw})
    intake = next(c for c in mapped if c.id == "TK-INTAKE-01")
    assert intake.maps_to["acme-ai-policy"] == ("P1.1",)
    assert intake.maps_to["nist-ai-rmf-1.0"]  # built-in mappings are kept
    fws = {**frameworks.load_builtin_frameworks(), fw.id: fw}
    low = frameworks.coverage(frameworks.controls_for("low", controls=mapped), fws)["acme-ai-policy"]
    high = frameworks.coverage(frameworks.controls_for("high", controls=mapped), fws)["acme-ai-policy"]
    assert (low.total, low.covered, low.uncovered) == (3, ("P1.1",), ("P1.2", "P2.1"))
    assert high.covered == ("P1.1", "P1.2")
    # Without the library's ids the file still loads (used for frameworks stored before a library change).
    assert frameworks.load_framework(path).item("P1.1").takeoff_controls == ("TK-INTAKE-01",)


@pytest.mark.parametrize("text, where", [
    (CUSTOM.replace("[TK-HO-01]", "[TK-NOPE-01]"),
     "line 18: field items[0].children[1].takeoff_controls[0]: unknown takeoff control 'TK-NOPE-01'"),
    (CUSTOM.replace("[TK-INTAKE-01]", "[not-an-id]"), "line 14: field items[0].children[0].takeoff_controls[0]"),
    (CUSTOM.replace("[TK-INTAKE-01]", "[TK-INTAKE-01, TK-INTAKE-01]"), "field items[0].children[0].takeoff_controls"),
])
def test_bad_mapping_names_file_line_and_field(tmp_path: Path, text: str, where: str) -> None:
    path = tmp_path / "acme.yaml"
    path.write_text(text)
    with pytest.raises(ValueError) as err:
        frameworks.load_framework(path, control_ids=[c.id for c in frameworks.load_controls()])
    assert str(err.value).startswith(f"{path}: ") and where in str(err.value)


def test_loaded_framework_coverage_per_use_case(client, admin, factory, signin) -> None:
    for key, tier in (("low-uc", "low"), ("high-uc", "high")):
        assert client.post("/api/v1/usecases", json=_intake(key, tier), headers=admin).status_code == 201
    bad = CUSTOM.replace("[TK-HO-01]", "[TK-NOPE-01]")
    r = client.post("/api/v1/frameworks", content=bad, headers={**admin, "content-type": "text/yaml"})
    assert r.status_code == 422
    msg = r.json()["error"]["message"]
    assert msg.startswith("framework.yaml: line 18: field items[0].children[1].takeoff_controls[0]") and "TK-NOPE-01" in msg
    with transaction(factory) as s:
        assert s.scalar(select(func.count()).select_from(FrameworkRecord)) == 0
    r = client.post("/api/v1/frameworks", content=CUSTOM, headers={**admin, "content-type": "text/yaml"})
    assert r.status_code == 201, r.text
    low = client.get("/api/v1/usecases/low-uc/controls", headers=admin).json()["coverage"]["acme-ai-policy"]
    high = client.get("/api/v1/usecases/high-uc/controls", headers=admin).json()["coverage"]["acme-ai-policy"]
    assert (low["covered"], low["total"], low["uncovered"]) == (1, 3, ["P1.2", "P2.1"])
    assert (high["covered"], high["total"], high["uncovered"]) == (2, 3, ["P2.1"])
    # Built-in coverage is unchanged by the loaded framework.
    assert high["covered"] < client.get("/api/v1/usecases/high-uc/controls", headers=admin).json()[
        "coverage"]["nist-ai-rmf-1.0"]["total"]
    listed = client.get("/api/v1/frameworks", headers=admin).json()
    assert listed["coverage"]["acme-ai-policy"] == {"total": 3, "covered": 2, "covered_share": 0.6667,
                                                    "uncovered": ["P2.1"]}
    # The governance page shows it in both coverage tables.
    signin("viewer")
    page = client.get("/governance").text
    assert "acme-ai-policy" in page and "2 / 3" in page and "1 / 3" in page


def test_framework_form(client, signin, factory) -> None:
    csrf = signin("risk_partner")
    assert 'id="framework-form"' in client.get("/governance").text
    bad = CUSTOM.replace("[TK-HO-01]", "[TK-NOPE-01]")
    r = client.post("/governance/frameworks", data={"csrf_token": csrf, "framework": bad})
    assert r.status_code == 422 and "framework.yaml: line 18" in r.text and "TK-NOPE-01" in r.text
    with transaction(factory) as s:
        assert s.scalar(select(func.count()).select_from(FrameworkRecord)) == 0
    r = client.post("/governance/frameworks", data={"csrf_token": csrf, "framework": CUSTOM}, follow_redirects=False)
    assert r.status_code == 303
    assert "ACME AI policy" in client.get("/governance").text
    signin("ai_engineer")
    assert 'id="framework-form"' not in client.get("/governance").text

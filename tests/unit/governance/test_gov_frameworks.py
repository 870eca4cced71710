"""Control library: shipped framework counts, mapping integrity, coverage and loading custom or bad files."""

from __future__ import annotations

from pathlib import Path

import pytest

from takeoff.governance.frameworks import (
    BUILTIN_FRAMEWORK_IDS,
    Control,
    count_by_kind,
    controls_for,
    coverage,
    load_builtin_frameworks,
    load_controls,
    load_framework,
    validate_control_mappings,
)
from takeoff.governance.policy_defaults import EVIDENCE_KINDS


@pytest.fixture(scope="module")
def frameworks():
    return load_builtin_frameworks()


@pytest.fixture(scope="module")
def controls():
    return load_controls()


def test_nist_ai_rmf_has_4_functions_19_categories_72_subcategories(frameworks):
    counts = count_by_kind(frameworks["nist-ai-rmf-1.0"])
    assert counts == {"function": 4, "category": 19, "subcategory": 72}


def test_nist_subcategories_per_category_match_the_framework(frameworks):
    nist = frameworks["nist-ai-rmf-1.0"]
    per_category = {c.id: len(c.children) for f in nist.items for c in f.children}
    assert per_category == {
        "GOVERN 1": 7, "GOVERN 2": 3, "GOVERN 3": 2, "GOVERN 4": 3, "GOVERN 5": 2, "GOVERN 6": 2,
        "MAP 1": 6, "MAP 2": 3, "MAP 3": 5, "MAP 4": 2, "MAP 5": 2,
        "MEASURE 1": 3, "MEASURE 2": 13, "MEASURE 3": 3, "MEASURE 4": 3,
        "MANAGE 1": 4, "MANAGE 2": 4, "MANAGE 3": 2, "MANAGE 4": 3,
    }
    assert nist.item("MEASURE 2.13").parent_id == "MEASURE 2"


def test_iso_42001_annex_a_has_9_areas_and_38_controls(frameworks):
    iso = frameworks["iso-iec-42001-2023"]
    assert count_by_kind(iso) == {"area": 9, "control": 38}
    per_area = {a.id: len(a.children) for a in iso.items}
    assert per_area == {"A.2": 3, "A.3": 2, "A.4": 5, "A.5": 4, "A.6": 9, "A.7": 5, "A.8": 4, "A.9": 3, "A.10": 3}
    assert iso.has_item("A.6.2.4")


def test_eu_ai_act_counts(frameworks):
    counts = count_by_kind(frameworks["eu-ai-act-2024-1689"])
    assert counts["prohibited_practice"] == 8
    assert counts["high_risk_requirement"] == 7
    assert counts["annex_iii_area"] == 8
    assert counts["transparency_duty"] == 4
    assert counts["exemption"] == 4


def test_eu_ai_act_arts_9_to_15_and_5_1_h(frameworks):
    eu = frameworks["eu-ai-act-2024-1689"]
    reqs = [i.id for i in eu.iter_items() if i.kind == "high_risk_requirement"]
    assert reqs == [f"Art.{n}" for n in range(9, 16)]
    h = eu.item("Art.5(1)(h)")
    assert "real-time remote biometric identification" in h.title.lower()
    assert "law enforcement" in h.title.lower()


def test_eu_ai_act_dates_are_data(frameworks):
    dates = {d.id: d for d in frameworks["eu-ai-act-2024-1689"].dates}
    assert dates["entry_into_force"].date == "2024-08-01"
    assert dates["prohibitions"].date == "2025-02-02"
    assert dates["gpai_and_penalties"].date == "2025-08-02"
    assert dates["general_application"].date == "2026-08-02"
    assert dates["annex_i_products"].date == "2027-08-02"
    assert dates["omnibus_annex_iii"].status == "proposed"


def test_every_control_mapping_resolves(frameworks, controls):
    validate_control_mappings(controls, frameworks)
    assert 20 <= len(controls) <= 30
    assert len({c.id for c in controls}) == len(controls)


def test_every_control_maps_to_something_and_uses_a_known_evidence_kind(controls):
    for c in controls:
        assert any(c.maps_to.values()), c.id
        assert c.evidence_kind in EVIDENCE_KINDS, c.id
        assert c.evidence in ("automatic", "attestation")


def test_unresolved_mapping_is_rejected_with_the_control_and_item(frameworks, controls):
    bad = Control(
        id="TK-BAD-01", title="t", statement="s", evidence="automatic", evidence_kind="owner_named",
        tiers=("low",), eu_categories=(), maps_to={"nist-ai-rmf-1.0": ("GOVERN 9.9",)},
    )
    with pytest.raises(ValueError, match=r"TK-BAD-01 .*GOVERN 9\.9"):
        validate_control_mappings([*controls, bad], frameworks)
    unknown_fw = Control(
        id="TK-BAD-02", title="t", statement="s", evidence="automatic", evidence_kind="owner_named",
        tiers=("low",), eu_categories=(), maps_to={"no-such-framework": ("X",)},
    )
    with pytest.raises(ValueError, match="unknown framework 'no-such-framework'"):
        validate_control_mappings([unknown_fw], frameworks)


def test_controls_for_grows_with_tier_and_eu_category(controls):
    low = {c.id for c in controls_for("low", "minimal_risk")}
    medium = {c.id for c in controls_for("medium", "minimal_risk")}
    high = {c.id for c in controls_for("high", "high_risk")}
    assert low < medium < high
    assert "TK-EVAL-01" in low and "TK-HO-01" not in low
    assert "TK-IMPACT-01" in high
    assert "TK-TRANS-01" in {c.id for c in controls_for("low", "limited_risk")}
    assert "TK-TRANS-01" not in low
    assert "TK-GPAI-01" in {c.id for c in controls_for("low", gpai=True)}


def test_controls_for_rejects_unknown_tier_or_category():
    with pytest.raises(ValueError, match="tier must be one of"):
        controls_for("critical")
    with pytest.raises(ValueError, match="eu_category must be one of"):
        controls_for("low", "unacceptable")


def test_coverage_counts_covered_and_satisfied_items(frameworks):
    applicable = controls_for("high", "high_risk")
    none = coverage(applicable, frameworks, [])
    assert none["nist-ai-rmf-1.0"].total == 72
    assert none["iso-iec-42001-2023"].total == 38
    assert none["nist-ai-rmf-1.0"].satisfied == ()
    assert none["nist-ai-rmf-1.0"].covered_share > 0.9

    only_eval = coverage(applicable, frameworks, ["TK-EVAL-01"])
    assert "A.6.2.4" in only_eval["iso-iec-42001-2023"].satisfied
    assert "MEASURE 2.1" in only_eval["nist-ai-rmf-1.0"].satisfied
    assert "GOVERN 1.6" not in only_eval["nist-ai-rmf-1.0"].satisfied
    assert 0 < only_eval["nist-ai-rmf-1.0"].satisfied_share < only_eval["nist-ai-rmf-1.0"].covered_share

    every = coverage(applicable, frameworks, [c.id for c in applicable])
    assert every["iso-iec-42001-2023"].satisfied_share == every["iso-iec-42001-2023"].covered_share


def test_coverage_for_low_tier_leaves_gaps_and_names_them(frameworks):
    cov = coverage(controls_for("low", "minimal_risk"), frameworks, [])
    eu = cov["eu-ai-act-2024-1689"]
    assert "Art.14" in eu.uncovered and "Art.14" not in eu.covered


def test_coverage_rejects_satisfied_ids_that_are_not_applicable(frameworks):
    with pytest.raises(ValueError, match="TK-NOPE-01"):
        coverage(controls_for("low"), frameworks, ["TK-NOPE-01"])


def test_mapping_a_parent_item_covers_its_children(frameworks):
    c = Control(
        id="TK-WIDE-01", title="t", statement="s", evidence="automatic", evidence_kind="owner_named",
        tiers=("low",), eu_categories=(), maps_to={"nist-ai-rmf-1.0": ("GOVERN 1",)},
    )
    cov = coverage([c], {"nist-ai-rmf-1.0": frameworks["nist-ai-rmf-1.0"]}, ["TK-WIDE-01"])
    assert cov["nist-ai-rmf-1.0"].satisfied == tuple(f"GOVERN 1.{n}" for n in range(1, 8))


CUSTOM = """\
id: acme-ai-policy
name: ACME internal AI policy
version: "2"
publisher: ACME Risk Office
items:
  - id: P1
    kind: principle
    title: Know your systems
    children:
      - {id: P1.1, kind: rule, title: "Inventory every AI system"}
      - {id: P1.2, kind: rule, title: "Name an owner"}
  - {id: P2, kind: principle, title: "Test before release"}
"""


def test_admin_can_load_a_custom_framework_from_any_path(tmp_path: Path):
    path = tmp_path / "acme.yaml"
    path.write_text(CUSTOM)
    fw = load_framework(path)
    assert fw.id == "acme-ai-policy"
    assert count_by_kind(fw) == {"principle": 2, "rule": 2}
    control = Control(
        id="ACME-OWN-01", title="t", statement="s", evidence="automatic", evidence_kind="owner_named",
        tiers=("low",), eu_categories=(), maps_to={"acme-ai-policy": ("P1.2",)},
    )
    cov = coverage([control], [fw], ["ACME-OWN-01"])["acme-ai-policy"]
    assert cov.total == 3 and cov.satisfied == ("P1.2",)  # leaves are assessable when no kinds are declared


def test_builtin_ids_load_by_name():
    assert [load_framework(f).id for f in BUILTIN_FRAMEWORK_IDS] == list(BUILTIN_FRAMEWORK_IDS)


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "bad.yaml"
    p.write_text(text)
    return p


def test_yaml_syntax_error_names_file_and_line(tmp_path):
    p = _write(tmp_path, "id: x\nname: [unclosed\nversion: 1\n")
    with pytest.raises(ValueError, match=r"bad\.yaml: line \d+, column \d+: invalid YAML"):
        load_framework(p)


def test_missing_field_names_file_line_and_field(tmp_path):
    text = CUSTOM.replace('      - {id: P1.2, kind: rule, title: "Name an owner"}\n', "      - {id: P1.2, kind: rule}\n")
    with pytest.raises(ValueError) as err:
        load_framework(_write(tmp_path, text))
    msg = str(err.value)
    assert "bad.yaml" in msg and "line 11" in msg and "items[0].children[1]" in msg and "'title'" in msg


def test_unquoted_comma_in_flow_title_is_caught_as_unknown_field(tmp_path):
    text = CUSTOM.replace('title: "Name an owner"', "title: Name an owner, clearly")
    with pytest.raises(ValueError, match=r"line 11: field items\[0\]\.children\[1\]: Additional properties"):
        load_framework(_write(tmp_path, text))


def test_duplicate_item_id_is_rejected(tmp_path):
    text = CUSTOM.replace("{id: P1.2,", "{id: P1.1,")
    with pytest.raises(ValueError, match=r"line 11: duplicate item id 'P1\.1'"):
        load_framework(_write(tmp_path, text))


def test_missing_file_and_empty_name_are_value_errors(tmp_path):
    with pytest.raises(ValueError, match="file not found"):
        load_framework(tmp_path / "nope.yaml")
    with pytest.raises(ValueError, match="built-in framework id or a path"):
        load_framework("  ")
    with pytest.raises(ValueError, match="unknown framework 'nist'.*nist-ai-rmf-1.0"):
        load_framework("nist")


def test_empty_file_is_rejected(tmp_path):
    with pytest.raises(ValueError, match=r"bad\.yaml: field \(top level\): None is not of type 'object'"):
        load_framework(_write(tmp_path, ""))


def test_bad_controls_file_is_rejected_with_the_field(tmp_path):
    p = tmp_path / "controls.yaml"
    p.write_text(
        "id: c\nname: c\nversion: '1'\ncontrols:\n"
        "  - id: TK-X-01\n    title: t\n    statement: s\n    evidence: sometimes\n    evidence_kind: owner_named\n"
        "    applies_to: {tiers: [low], eu_categories: []}\n    maps_to: {}\n"
    )
    with pytest.raises(ValueError, match=r"line 8: field controls\[0\]\.evidence: 'sometimes' is not one of"):
        load_controls(p)


def test_control_that_applies_to_nothing_is_rejected(tmp_path):
    p = tmp_path / "controls.yaml"
    p.write_text(
        "id: c\nname: c\nversion: '1'\ncontrols:\n"
        "  - id: TK-X-01\n    title: t\n    statement: s\n    evidence: automatic\n    evidence_kind: owner_named\n"
        "    applies_to: {tiers: [], eu_categories: []}\n    maps_to: {}\n"
    )
    with pytest.raises(ValueError, match="applies to nothing"):
        load_controls(p)

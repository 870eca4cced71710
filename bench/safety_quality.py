"""Precision and recall of the SDK's safety detectors on a held-out labelled set (bench/data/safety_heldout.json).

The set was written after the detectors, never used to tune them: the figures are what a user can expect on text
that no one fitted the rules to (the unit tests' adversarial cases pass by construction). Prints per detector the
confusion counts, precision and recall, and the missed and false cases. Run: .venv/bin/python bench/safety_quality.py
"""
from __future__ import annotations

import json
from pathlib import Path

from takeoff.sdk.safety import check, parse_policy

DATA = Path(__file__).parent / "data" / "safety_heldout.json"


def fires(detector: str, text: str) -> bool:
    """Whether the detector at its default threshold asks for its action on this text."""
    policy = parse_policy({"input": [{"detector": detector, "action": "flag"}]})
    return check(policy, "input", text).action == "flag"


def main() -> None:
    sets = {k: v for k, v in json.loads(DATA.read_text()).items() if not k.startswith("_")}
    print(f"{'detector':<18}{'n':>4}{'tp':>5}{'fp':>5}{'fn':>5}{'tn':>5}{'precision':>11}{'recall':>8}")
    misses: list[str] = []
    for detector, cases in sets.items():
        tp = fp = fn = tn = 0
        for label, text in cases:
            hit = fires(detector, text)
            if hit and label:
                tp += 1
            elif hit:
                fp += 1
                misses.append(f"  {detector} false positive: {text!r}")
            elif label:
                fn += 1
                misses.append(f"  {detector} missed: {text!r}")
            else:
                tn += 1
        precision = tp / (tp + fp) if tp + fp else float("nan")
        recall = tp / (tp + fn) if tp + fn else float("nan")
        print(f"{detector:<18}{len(cases):>4}{tp:>5}{fp:>5}{fn:>5}{tn:>5}{precision:>11.2f}{recall:>8.2f}")
    print("\n".join(misses))


if __name__ == "__main__":
    main()

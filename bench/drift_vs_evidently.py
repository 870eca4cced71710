"""Drift over N rows x 25 features: takeoff's histogram pipeline beside Evidently's DataDriftPreset, same data.

Data (research/drift.md): 20 numeric columns (normal, lognormal, uniform, exponential, gamma), 5 categorical
(10 Zipf-like levels); shifted in current: num_0 (mean +0.5 sd), num_1 (lognormal sigma 0.5 -> 0.7),
num_2 (uniform 0-10 -> 1-11), num_3 (exponential scale 2 -> 2.6), num_4 (normal sd 2 -> 2.6), cat_0 (15 points
of probability moved from one level to another). Exactly these six should be flagged.

Each side runs in its own subprocess (peak memory = that process's max RSS, data loading included for both;
time excludes loading). Evidently 0.7.23 runs in its own venv, bench/.venv-evidently, created if missing.

    python bench/drift_vs_evidently.py --rows 100000
    python bench/drift_vs_evidently.py                 # 1,000,000 + 1,000,000 rows
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
EVIDENTLY_VENV = HERE / ".venv-evidently"
EVIDENTLY_PIP = ["evidently==0.7.23", "pandas<3", "numpy"]
SHIFTED = ["num_0", "num_1", "num_2", "num_3", "num_4", "cat_0"]
N_NUMERIC, N_CATEGORICAL, N_LEVELS = 20, 5, 10


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux reports KiB


def generate(rows: int, seed: int, out: Path) -> None:
    """Write reference and current data as column-major .npy files (numeric float64, categorical int codes)."""
    import numpy as np

    rng = np.random.default_rng(seed)

    def numeric(j: int, current: bool) -> np.ndarray:
        kind = j % 5
        if j == 0:
            return rng.normal(0.5 if current else 0.0, 1.0, rows)
        if j == 1:
            return rng.lognormal(0.0, 0.7 if current else 0.5, rows)
        if j == 2:
            return rng.uniform(1.0, 11.0, rows) if current else rng.uniform(0.0, 10.0, rows)
        if j == 3:
            return rng.exponential(2.6 if current else 2.0, rows)
        if j == 4:
            return rng.normal(0.0, 2.6 if current else 2.0, rows)
        if kind == 0:
            return rng.normal(j, 1.0 + j / 10, rows)
        if kind == 1:
            return rng.lognormal(0.1 * j, 0.5, rows)
        if kind == 2:
            return rng.uniform(-j, j, rows)
        if kind == 3:
            return rng.exponential(1.0 + j / 5, rows)
        return rng.gamma(2.0 + j / 10, 1.5, rows)

    zipf = 1.0 / np.arange(1, N_LEVELS + 1)
    zipf /= zipf.sum()
    shifted = zipf.copy()
    shifted[0] -= 0.15
    shifted[N_LEVELS - 1] += 0.15
    for side, current in (("ref", False), ("cur", True)):
        num = np.empty((N_NUMERIC, rows))
        for j in range(N_NUMERIC):
            num[j] = numeric(j, current)
        cat = np.empty((N_CATEGORICAL, rows), dtype=np.int8)
        for j in range(N_CATEGORICAL):
            cat[j] = rng.choice(N_LEVELS, rows, p=shifted if (current and j == 0) else zipf)
        np.save(out / f"{side}_num.npy", num)
        np.save(out / f"{side}_cat.npy", cat)


def _load(data: Path):
    import numpy as np

    levels = np.array([f"level_{k}" for k in range(N_LEVELS)])
    out = {}
    for side in ("ref", "cur"):
        num = np.load(data / f"{side}_num.npy")
        cat = levels[np.load(data / f"{side}_cat.npy")]  # categories arrive as strings on both sides
        out[side] = (num, cat)
    return out


def worker_takeoff(data: Path, reps: int) -> dict:
    """takeoff: baseline edges from reference, histograms of both windows, drift check; then the check alone."""
    from takeoff.monitoring.drift import check_features
    from takeoff.telemetry.histogram import baseline_edges, bin_counts, category_counts

    d = _load(data)
    (ref_num, ref_cat), (cur_num, cur_cat) = d["ref"], d["cur"]
    t0 = time.perf_counter()
    features: dict[str, dict] = {}
    for j in range(N_NUMERIC):
        edges = baseline_edges(ref_num[j])
        features[f"num_{j}"] = {
            "kind": "numeric", "edges": edges,
            "reference": bin_counts(ref_num[j], edges), "current": bin_counts(cur_num[j], edges),
        }
    for j in range(N_CATEGORICAL):
        features[f"cat_{j}"] = {
            "kind": "categorical",
            "reference": category_counts(ref_cat[j]), "current": category_counts(cur_cat[j]),
        }
    report = check_features(features)
    seconds = time.perf_counter() - t0
    # the check a scheduled job runs: histograms already stored (as JSON) in rollups
    stored = json.dumps(features)
    timings = []
    for _ in range(reps):
        t = time.perf_counter()
        check_features(json.loads(stored))
        timings.append(time.perf_counter() - t)
    timings.sort()
    scores = {
        f.feature: round(f.statistics.get("wasserstein", f.statistics.get("js_distance", 0.0)), 4)
        for f in report.features
    }
    return {
        "seconds": seconds, "peak_rss_mb": _peak_rss_mb(), "drifted": report.drifted,
        "check_p50_ms": 1000 * timings[len(timings) // 2], "scores": scores,
        "psi": {f.feature: round(f.statistics["psi"], 4) for f in report.features},
    }


def worker_evidently(data: Path) -> dict:
    """Evidently 0.7.23 DataDriftPreset with an explicit DataDefinition, run in process."""
    import pandas as pd
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    d = _load(data)

    def frame(side: str) -> pd.DataFrame:
        num, cat = d[side]
        cols = {f"num_{j}": num[j] for j in range(N_NUMERIC)}
        cols.update({f"cat_{j}": cat[j].astype(object) for j in range(N_CATEGORICAL)})
        return pd.DataFrame(cols)

    ref, cur = frame("ref"), frame("cur")
    del d
    dd = DataDefinition(
        numerical_columns=[f"num_{j}" for j in range(N_NUMERIC)],
        categorical_columns=[f"cat_{j}" for j in range(N_CATEGORICAL)],
    )
    t0 = time.perf_counter()
    snapshot = Report([DataDriftPreset()]).run(
        current_data=Dataset.from_pandas(cur, data_definition=dd),
        reference_data=Dataset.from_pandas(ref, data_definition=dd),
    )
    result = snapshot.dict()
    seconds = time.perf_counter() - t0
    drifted, scores = [], {}
    for metric in result["metrics"]:
        cfg = metric.get("config", {})
        if not cfg.get("type", "").endswith("ValueDrift"):
            continue
        value, threshold, method = float(metric["value"]), float(cfg["threshold"]), str(cfg.get("method", ""))
        is_p_value = "p_value" in method.lower() or "p-value" in method.lower()
        scores[cfg["column"]] = round(value, 4)
        if (value < threshold) if is_p_value else (value >= threshold):
            drifted.append(cfg["column"])
    return {"seconds": seconds, "peak_rss_mb": _peak_rss_mb(), "drifted": drifted, "scores": scores}


def ensure_evidently_venv() -> Path:
    """Python of bench/.venv-evidently, creating it (pip install evidently==0.7.23 "pandas<3") if missing."""
    python = EVIDENTLY_VENV / "bin" / "python"
    if not python.exists():
        print(f"creating {EVIDENTLY_VENV} (pip install {' '.join(EVIDENTLY_PIP)}) ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(EVIDENTLY_VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", *EVIDENTLY_PIP], check=True)
    return python


def _run_worker(python: str, which: str, data: Path, reps: int) -> dict:
    env = dict(os.environ, DO_NOT_TRACK="1", EVIDENTLY_DISABLE_TELEMETRY="1")
    if which == "takeoff":
        env["PYTHONPATH"] = str(HERE.parent / "src") + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.run(
        [python, str(Path(__file__).resolve()), "--worker", which, "--data", str(data), "--reps", str(reps)],
        capture_output=True, text=True, env=env,
    )
    if proc.returncode != 0:
        raise SystemExit(f"{which} worker failed:\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=1_000_000, help="rows in reference and in current (each)")
    ap.add_argument("--seed", type=int, default=20261125)
    ap.add_argument("--reps", type=int, default=50, help="repetitions of the stored-histogram check")
    ap.add_argument("--skip-evidently", action="store_true")
    ap.add_argument("--worker", choices=["takeoff", "evidently"], help=argparse.SUPPRESS)
    ap.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.worker == "takeoff":
        print(json.dumps(worker_takeoff(args.data, args.reps)))
        return
    if args.worker == "evidently":
        print(json.dumps(worker_evidently(args.data)))
        return

    with tempfile.TemporaryDirectory(prefix="drift_bench_") as tmp:
        data = Path(tmp)
        t = time.perf_counter()
        generate(args.rows, args.seed, data)
        print(f"data: {args.rows:,} + {args.rows:,} rows x {N_NUMERIC + N_CATEGORICAL} columns "
              f"(seed {args.seed}), generated in {time.perf_counter() - t:.1f} s")
        print(f"shifted: {', '.join(SHIFTED)}")
        ours = _run_worker(sys.executable, "takeoff", data, args.reps)
        theirs = None if args.skip_evidently else _run_worker(str(ensure_evidently_venv()), "evidently", data, 1)

    def line(name: str, r: dict) -> None:
        ok = "exactly the shifted" if sorted(r["drifted"]) == sorted(SHIFTED) else "NOT the shifted set"
        print(f"{name:<10} {r['seconds']:8.2f} s   peak RSS {r['peak_rss_mb']:7.0f} MB   "
              f"drifted ({ok}): {', '.join(r['drifted']) or '-'}")

    print()
    line("takeoff", ours)
    print(f"{'':<10} check over stored histograms (25 features, JSON decode included): "
          f"p50 {ours['check_p50_ms']:.1f} ms over {args.reps} runs")
    unshifted = {k: v for k, v in ours["scores"].items() if k not in SHIFTED}
    shifted_scores = ", ".join(f"{k}={ours['scores'][k]}" for k in SHIFTED)
    worst = max(unshifted, key=unshifted.get)
    print(f"{'':<10} scores (W normed / JS): shifted {shifted_scores}; largest unshifted {worst}={unshifted[worst]}")
    if theirs:
        line("evidently", theirs)
        print()
        print(f"speed ratio (evidently / takeoff): {theirs['seconds'] / ours['seconds']:.1f}x; "
              f"peak memory ratio: {theirs['peak_rss_mb'] / ours['peak_rss_mb']:.2f}x")
        print(f"same drifted columns: {sorted(ours['drifted']) == sorted(theirs['drifted'])}")


if __name__ == "__main__":
    main()

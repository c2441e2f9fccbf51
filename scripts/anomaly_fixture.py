#!/usr/bin/env python3
"""Writes crates/ae/tests/fixtures/anomaly_sklearn.json: score lists (ties included) with
scikit-learn's roc_auc_score and average_precision_score, which `anomaly.rs`'s tests read.

    python scripts/anomaly_fixture.py      # needs numpy and scikit-learn
"""

import json
from pathlib import Path

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score

rng = np.random.default_rng(7)
cases = []
for name, n, share, decimals, shift in [
    ("coarse ties, balanced", 40, 0.5, 1, 0.3),
    ("two Gaussians, rounded", 200, 0.1, 2, 1.0),
    ("distinct, few anomalous", 30, 0.2, 12, 0.5),
    ("heavy ties", 60, 0.3, 0, 0.8),
]:
    labels = (rng.random(n) < share).astype(int)
    labels[0], labels[1] = 1, 0
    scores = np.round(rng.normal(size=n) + shift * labels, decimals)
    cases.append({
        "name": name,
        "scores": scores.tolist(),
        "labels": labels.tolist(),
        "roc_auc": float(roc_auc_score(labels, scores)),
        "average_precision": float(average_precision_score(labels, scores)),
    })
out = Path(__file__).resolve().parents[1] / "crates/ae/tests/fixtures/anomaly_sklearn.json"
out.write_text("[\n" + ",\n".join(json.dumps(c) for c in cases) + "\n]\n")
print(f"wrote {out}")

"""The files of the demo project: a small, deterministic churn model in pure Python.

Three DVC stages (prepare -> train -> evaluate) over raw data tracked with
`dvc add`. No third-party ML library: the demo must run anywhere gitreg does.
"""

from __future__ import annotations

import random

PARAMS = """\
prepare:
  seed: 7
  test_fraction: 0.25
train:
  features: [{features}]
  epochs: 100
  learning_rate: 0.05
  l2: 0.001
"""

DVC_YAML = """\
stages:
  prepare:
    cmd: python src/prepare.py
    deps:
      - src/prepare.py
      - data/raw.csv
    params:
      - prepare
    outs:
      - data/prepared
  train:
    cmd: python src/train.py
    deps:
      - src/train.py
      - data/prepared
    params:
      - train
    outs:
      - models/churn.json
  evaluate:
    cmd: python src/evaluate.py
    deps:
      - src/evaluate.py
      - models/churn.json
      - data/prepared
    metrics:
      - metrics.json:
          cache: false
artifacts:
  churn:
    path: models/churn.json
    type: model
    desc: Churn classifier for monthly B2C accounts
    labels: [tabular, classification]
"""

PREPARE = '''\
"""Split the raw accounts into train and test sets, deterministically."""
import csv, json, os, random
import yaml

params = yaml.safe_load(open("params.yaml"))["prepare"]
rows = list(csv.DictReader(open("data/raw.csv")))
random.Random(params["seed"]).shuffle(rows)
cut = int(len(rows) * (1 - params["test_fraction"]))
os.makedirs("data/prepared", exist_ok=True)
for name, part in (("train", rows[:cut]), ("test", rows[cut:])):
    with open(f"data/prepared/{name}.json", "w") as f:
        json.dump(part, f, sort_keys=True)
'''

TRAIN = '''\
"""Logistic regression by gradient descent, in pure Python."""
import json, math, os
import yaml

params = yaml.safe_load(open("params.yaml"))["train"]
FEATURES = params["features"]
rows = json.load(open("data/prepared/train.json"))
raw = [[float(r[f]) for f in FEATURES] for r in rows]
mean = [sum(c) / len(c) for c in zip(*raw)]
std = [math.sqrt(sum((v - m) ** 2 for v in c) / len(c)) or 1.0 for c, m in zip(zip(*raw), mean)]
xs = [[(v - m) / s for v, m, s in zip(x, mean, std)] for x in raw]
ys = [int(r["churned"]) for r in rows]
w, b = [0.0] * len(FEATURES), 0.0
lr, l2 = params["learning_rate"], params["l2"]
for _ in range(params["epochs"]):
    gw, gb = [0.0] * len(w), 0.0
    for x, y in zip(xs, ys):
        p = 1 / (1 + math.exp(-(sum(wi * xi for wi, xi in zip(w, x)) + b)))
        for i, xi in enumerate(x):
            gw[i] += (p - y) * xi
        gb += p - y
    n = len(xs)
    w = [wi - lr * (g / n + l2 * wi) for wi, g in zip(w, gw)]
    b -= lr * gb / n
os.makedirs("models", exist_ok=True)
with open("models/churn.json", "w") as f:
    json.dump({"features": FEATURES, "mean": mean, "std": std,
               "weights": [round(v, 10) for v in w], "bias": round(b, 10)},
              f, indent=2, sort_keys=True)
'''

EVALUATE = '''\
"""Accuracy, ROC AUC and the demographic parity gap on the test split."""
import json, math

model = json.load(open("models/churn.json"))
rows = json.load(open("data/prepared/test.json"))

def score(r):
    x = [(float(r[f]) - m) / s for f, m, s in zip(model["features"], model["mean"], model["std"])]
    z = sum(w * v for w, v in zip(model["weights"], x)) + model["bias"]
    return 1 / (1 + math.exp(-z))

scored = [(score(r), int(r["churned"]), r["segment"]) for r in rows]
accuracy = sum((s >= 0.5) == bool(y) for s, y, _ in scored) / len(scored)
pos = [s for s, y, _ in scored if y]
neg = [s for s, y, _ in scored if not y]
auc = sum((p > n) + 0.5 * (p == n) for p in pos for n in neg) / (len(pos) * len(neg))
rate = {}
for seg in ("north", "south"):
    group = [s for s, _, g in scored if g == seg]
    rate[seg] = sum(s >= 0.5 for s in group) / len(group)
metrics = {
    "accuracy": round(accuracy, 4),
    "roc_auc": round(auc, 4),
    "fairness": {"demographic_parity_gap": round(abs(rate["north"] - rate["south"]), 4)},
}
with open("metrics.json", "w") as f:
    json.dump(metrics, f, indent=2, sort_keys=True)
    f.write("\\n")
'''

CARD = """\
overview: Churn classifier for monthly B2C accounts.
owners: [{name: Data Science, contact: ds@example.com}]
license: proprietary
intended_use:
  primary_uses: [Rank accounts by 30-day churn risk]
  users: [CRM analysts]
  out_of_scope: [Credit or pricing decisions]
considerations:
  limitations: [Trained on EU accounts only]
  ethical_risks:
    - {name: Higher error for accounts under 3 months old, mitigation: Exclude them from automated outreach}
"""

GITIGNORE = "__pycache__/\n"


V1_FEATURES = "tenure, monthly_spend, support_calls"
V2_FEATURES = "tenure, monthly_spend, support_calls, usage_drop"


def raw_data(rows: int = 1200, seed: int = 2024) -> str:
    """Synthetic accounts: churn depends on usage drop, support calls and tenure, not region."""
    rng = random.Random(seed)
    lines = ["account,segment,tenure,monthly_spend,support_calls,usage_drop,churned"]
    for i in range(rows):
        tenure = rng.randint(1, 60)
        spend = round(rng.uniform(10, 120), 2)
        calls = rng.randint(0, 8)
        drop = round(rng.uniform(0, 1), 3)
        segment = rng.choice(["north", "south"])
        z = 3.2 * drop + 0.45 * calls - 0.03 * tenure - 0.005 * spend - 2.6 + rng.gauss(0, 0.5)
        churned = int(z > 0)
        lines.append(f"a{i:05d},{segment},{tenure},{spend},{calls},{drop},{churned}")
    return "\n".join(lines) + "\n"

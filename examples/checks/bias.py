"""A custom validator (registry.yaml: validators: [{stage: production, run: "python checks/bias.py"}]).

The check runs it for each version entering the stage, from a scratch copy of the
BASE registry's checks/ (never the proposal's), with the card as JSON in $GITREG_CARD.
Exit 0 passes; anything else fails the check with this script's output.
"""

import json
import os
import sys

LIMIT = 0.05  # the largest demographic parity gap this team accepts in production

with open(os.environ["GITREG_CARD"]) as f:
    card = json.load(f)
values = {m["type"]: m["value"] for r in card["evaluation"] for m in r["metrics"]}
gap = values.get("fairness.demographic_parity_gap")
name = f"{os.environ['GITREG_MODEL']}@{os.environ['GITREG_VERSION']}"
if gap is None:
    print(f"{name}: the card has no fairness.demographic_parity_gap metric")
    sys.exit(1)
print(f"{name}: demographic parity gap {gap} (limit {LIMIT})")
sys.exit(0 if gap <= LIMIT else 1)

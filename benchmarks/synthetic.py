"""What the synthetic registry is made of: models, people, the project's files, card narratives.

Plain data and small pure functions, shared by make_registry.py and its checks.
"""

from __future__ import annotations

import hashlib

T0 = 1_700_000_000  # 2023-11-14, the first training run
WEEK = 7 * 86_400
RAW_SIZE = 3_826_400
ENGINEERS = [
    ("Ada Data", "ada@example.com"),
    ("Bo Trainer", "bo@example.com"),
    ("Cy Ops", "cy@example.com"),
    ("Di Review", "di@example.com"),
]
DOMAINS = [
    (
        "churn",
        "Churn classifier for monthly B2C accounts.",
        "Rank accounts by 30-day churn risk",
        "CRM analysts",
        "Credit or pricing decisions",
        "Trained on EU accounts only",
        "Higher error for accounts under 3 months old",
        "Exclude them from automated outreach",
    ),
    (
        "fraud",
        "Card-not-present fraud scorer.",
        "Score card payments for manual review",
        "Fraud operations",
        "Automatic account closure",
        "Sparse data for new merchants",
        "Over-flags customers from some regions",
        "Human review before any block",
    ),
    (
        "ltv",
        "Customer lifetime value regressor.",
        "Budget retention campaigns",
        "Marketing analysts",
        "Credit limits",
        "Assumes stable pricing",
        "Undervalues low-income segments",
        "Floor budgets per segment",
    ),
    (
        "demand",
        "Store-level demand forecaster.",
        "Plan weekly replenishment",
        "Supply planners",
        "Staffing decisions",
        "Weak on promotions never seen before",
        "Under-stocks rural stores",
        "Planner override with a minimum stock",
    ),
    (
        "ranker",
        "Search result re-ranker.",
        "Order catalogue search results",
        "The search service",
        "Ads auctions",
        "Cold start for new items",
        "Popularity bias against small sellers",
        "Exploration slots for new sellers",
    ),
]
SOURCE_FILES = {
    ".gitignore": "/models\n__pycache__/\n",
    ".python-version": "3.11\n",
    ".dvc/config": "[core]\n    remote = storage\n['remote \"storage\"']\n    url = ../dvc-remote\n",
    ".dvc/.gitignore": "/config.local\n/tmp\n/cache\n",
    "requirements.txt": "numpy==2.1.3\nscikit-learn==1.5.2\npandas==2.2.3\n",
    "src/prepare.py": "# Split raw accounts into train/test.\nimport sys\n",
    "src/train.py": "# Train one model: python src/train.py NAME\nimport sys\n",
    "data/raw.csv.dvc": f"outs:\n- md5: {hashlib.md5(b'raw').hexdigest()}\n  size: {RAW_SIZE}\n"
    "  hash: md5\n  path: raw.csv\n",
}
RAW_MD5 = hashlib.md5(b"raw").hexdigest()
# The leaves of a card that differ between versions of one model, then those that differ
# between models of one domain (the name, and paths and stages named after it).
CARD_LEAVES = [
    ("version",),
    *[("evaluation", 0, "metrics", j, "value") for j in range(3)],
    *[("provenance", "source", k) for k in ("commit", "tree")],
    ("provenance", "pipeline", "lock_digest"),
    *[("provenance", "artifact", k) for k in ("md5", "size")],
    *[("provenance", "data", 1, k) for k in ("md5", "size")],
    *[("provenance", "params", "params.yaml", "train", k) for k in ("epochs", "learning_rate")],
    *[("provenance", "registered_by", k) for k in ("name", "email")],
    ("provenance", "registered_at"),
    ("name",),
    *[("evaluation", 0, "metrics", j, "source", "file") for j in range(3)],
    ("provenance", "pipeline", "stage"),
    ("provenance", "pipeline", "stages", 1),
    ("provenance", "artifact", "path"),
    ("provenance", "artifact", "stage"),
    ("provenance", "data", 1, "stage"),
]
# The leaves of models/NAME/model.yaml that differ between models of one domain.
MODEL_LEAVES = [("name",), ("artifact", "path"), ("created_at",)]
# The leaves of one model's train stage in dvc.lock that differ between commits and models.
LOCK_LEAVES = [
    ("cmd",),
    ("deps", 0, "md5"),
    ("deps", 0, "size"),
    ("params", "params.yaml", "train", "epochs"),
    ("params", "params.yaml", "train", "learning_rate"),
    *[("outs", j, k) for j in (0, 1) for k in ("path", "md5", "size")],
]
STAGE_KEY = "stagekey"


def md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def version_of(i: int) -> str:
    return f"{1 + i // 10}.{i % 10}.0"


def narrative(k: int) -> dict:
    _, overview, use, users, oos, limit, risk, mitigation = DOMAINS[k % len(DOMAINS)]
    team = ["Data Science", "Risk Analytics", "Growth", "Forecasting", "Search"][k % 5]
    return {
        "overview": overview,
        "owners": [{"name": team, "contact": f"{team.lower().replace(' ', '-')}@example.com"}],
        "license": "proprietary",
        "intended_use": {"primary_uses": [use], "users": [users], "out_of_scope": [oos]},
        "considerations": {
            "limitations": [limit],
            "ethical_risks": [{"name": risk, "mitigation": mitigation}],
        },
    }

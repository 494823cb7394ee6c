"""Living beside other registries: GTO's tags as a mirror of the registry (gtotags), and imports
from a GTO registry (gto) and an MLflow Model Registry (mlflow) as one proposal each.

May import: gitreg.ops, gitreg.check, gitreg.trust, gitreg.lineage, gitreg.model, gitreg.store.
"""

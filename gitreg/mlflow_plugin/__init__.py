"""MLflow's own client over a gitreg registry: a model registry store for `gitreg:` registry URIs
and an artifact repository for the `gitreg:` source URIs that store hands out.

Registered through entry points (the `mlflow` extra); MLflow is imported only in this package.
Reads map the registry onto MLflow's entities; writes become the proposals `gitreg promote`
and `gitreg register --propose` would make, or are refused with the gitreg command to run
(docs/mlflow.md says which).

May import: everything but gitreg.cli.
"""

"""Every rule of the check, in the order it runs: the one list to read.

Each rule is `rule(change) -> Iterable[Finding]`; it reads the change (gitreg.check.change) and
judges with the base's policy. A rule's name is what findings, `--json` and docs call it.
May import: gitreg.check.change, gitreg.trust, gitreg.lineage, gitreg.model, gitreg.store.
"""

from __future__ import annotations

from gitreg.check.change import Rule
from gitreg.check.rules import (
    binding,
    evidence,
    gates,
    governance,
    immutable,
    lineage,
    policy,
    schema,
    signatures,
    stages,
    validators,
)

RULES: list[tuple[str, Rule]] = [
    # The files themselves: where they sit, their schema, what may change with what.
    ("layout", schema.layout_rule),
    ("schema", schema.schema),
    ("policy-alone", policy.policy_alone),
    # Who may do what: policy owners, merges that are what they say.
    ("owners", governance.owners),
    ("maintainers", governance.maintainers),
    ("merge", governance.merge),
    ("signers", signatures.signers),
    ("immutable", immutable.immutable),
    # A new card: its tag, the tag's signature.
    ("binding", binding.binding),
    ("signature", signatures.signature),
    # Stage moves: allowed, registered, room in the stage, the stage's gates.
    ("transition", stages.transition),
    ("registered", stages.registered),
    ("capacity", stages.capacity),
    ("approval", governance.approval),
    ("gate", gates.gate),
    ("stage-card", gates.stage_card),
    ("require", evidence.requirements),
    # Evidence: the card against the source commit's pipeline, whose lock must be fresh.
    ("lineage.fresh", evidence.fresh),
    ("lineage.pipeline", lineage.pipeline_rule),
    ("lineage.artifact", lineage.artifact_rule),
    ("lineage.data", lineage.data_rule),
    ("lineage.params", lineage.params_rule),
    ("lineage.metrics", lineage.metrics_rule),
    ("lineage.labels", evidence.metric_labels),
    ("same-artifact", evidence.same_artifact),
    ("lineage.remote", lineage.remote_rule),
    # The policy's own validators, run from the base's checks/.
    ("validator", validators.validators),
]

"""The check: judge a change of the registry (base -> head) by the base's policy.

`change` holds what a change does (computed once, shared by rules); `rules/` holds the rules,
listed in order in `rules/__init__.py`; `engine` runs them; `report` renders the findings.
May import: gitreg.trust, gitreg.lineage, gitreg.model, gitreg.store.
"""

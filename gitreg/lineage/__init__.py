"""Lineage: the DVC pipeline and Git LFS read from Git objects, the provenance `register`
writes into a card, the lineage report, diffs between versions, fetching and reproducing artifacts.

May import: gitreg.model, gitreg.store. DVC itself is imported only where bytes must be fetched or a
pipeline re-run (dvcstore, fetch, reproduce), never on a read path.
"""

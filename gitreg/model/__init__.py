"""The registry model: the policy, model cards, a read-only view of one registry commit, and
the events a range of registry history holds.

May import: gitreg.store (and gitreg.errors, gitreg.version).
"""

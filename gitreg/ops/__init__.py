"""Operations that write or move the registry: registration, promotion and merge, remotes,
hooks, forges, CI files, the audit.

May import: gitreg.check, gitreg.trust, gitreg.lineage, gitreg.model, gitreg.store.
"""

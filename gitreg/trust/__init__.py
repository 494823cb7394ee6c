"""Trust: signing keys, signatures, the signers a registry allows, and verification of
registration tags against them.

May import: gitreg.model, gitreg.store.
"""

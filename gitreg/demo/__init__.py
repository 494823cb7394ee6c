"""`gitreg demo`: a real sample project (git + DVC), trained, registered and promoted.

May import: everything but gitreg.cli.
"""

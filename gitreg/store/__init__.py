"""The store: Git objects and refs (the only package that runs git or touches pygit2), the
on-disk layout, strict YAML, the schemas shipped with the package, and the disposable cache.

May import: gitreg.errors, gitreg.version. Nothing else of gitreg.
"""

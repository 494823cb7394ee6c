"""The floor of a whole-process read: start Python, import pygit2 and PyYAML, read one blob
from the registry branch and parse it. No registry tool can answer faster from Python.

    python benchmarks/floor.py PATH-ON-THE-REGISTRY-BRANCH [BRANCH]
"""

import sys

import pygit2
import yaml

repo = pygit2.Repository(".")
ref = repo.references[f"refs/heads/{sys.argv[2] if len(sys.argv) > 2 else 'gitreg'}"]
blob = repo[ref.target].peel(pygit2.Tree) / sys.argv[1]
print(yaml.load(blob.data, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)) is not None)

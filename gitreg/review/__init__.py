"""What people read about the registry: the weekly review report, card exports (Hugging Face,
Model Card Toolkit) and the static HTML site with its charts and comparisons.

Everything here reads; nothing writes to the registry. Every piece of card text reaching HTML
goes through `html.esc` and every page carries a Content-Security-Policy that only allows its
own inline style and script (by hash): a hostile card can neither inject markup nor run code.

May import: gitreg.ops, gitreg.check, gitreg.trust, gitreg.lineage, gitreg.model, gitreg.store.
"""

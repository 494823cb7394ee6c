"""`gitreg site` (the static HTML registry) and `gitreg ui` (it, served on 127.0.0.1)."""

from __future__ import annotations

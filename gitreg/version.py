"""The package version and the registry format version this gitreg reads and writes."""

__version__ = "0.1.0"

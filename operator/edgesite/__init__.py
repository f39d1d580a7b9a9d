"""edgesite: one declarative EdgeSite in, a working K3s site out, kept useful when the site degrades."""

__version__ = "0.1.0"

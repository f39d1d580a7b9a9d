"""`edgesite lint`: edge anti-patterns, model fit, latency and bandwidth budgets, as small pure checks."""

from .core import Finding, Rule, RULES, lint

__all__ = ["Finding", "Rule", "RULES", "lint"]

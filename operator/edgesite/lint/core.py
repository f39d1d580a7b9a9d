"""Findings and the registry of rules. A rule is a pure function from a site to findings."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from ..model import EdgeSite

SEVERITIES = ("error", "warning", "info")


@dataclass(frozen=True)
class Finding:
    """One thing a rule found: where, what is wrong, and a concrete fix."""

    rule: str
    severity: str
    path: str
    message: str
    fix: str


@dataclass(frozen=True)
class Rule:
    """A check with a stable ID; its docstring is the rule's documentation page."""

    id: str
    name: str
    severity: str
    summary: str
    check: Callable[[EdgeSite], Iterable[tuple[str, str, str]]]

    @property
    def doc(self) -> str:
        return (self.check.__doc__ or "").strip()

    def run(self, site: EdgeSite) -> list[Finding]:
        return [Finding(self.id, self.severity, path, message, fix) for path, message, fix in self.check(site)]


RULES: list[Rule] = []


def rule(id: str, name: str, severity: str, summary: str) -> Callable[[Callable[[EdgeSite], Iterable[tuple[str, str, str]]]], Rule]:
    """Register a check: it yields (field path, what is wrong, how to fix it)."""
    assert severity in SEVERITIES

    def register(check: Callable[[EdgeSite], Iterable[tuple[str, str, str]]]) -> Rule:
        registered = Rule(id, name, severity, summary, check)
        RULES.append(registered)
        return registered

    return register


def lint(site: EdgeSite) -> list[Finding]:
    """Every finding of every rule, in a stable order."""
    from . import rules  # noqa: F401 - registers the rules

    order = {s: i for i, s in enumerate(SEVERITIES)}
    findings = [finding for registered in RULES for finding in registered.run(site)]
    return sorted(findings, key=lambda f: (order[f.severity], f.rule, f.path))

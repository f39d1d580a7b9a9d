"""Lint findings as text, JSON and SARIF 2.1.0 (for code scanning in GitOps repositories)."""

from __future__ import annotations

import json
from typing import Any

from .. import __version__
from .core import RULES, Finding

SARIF_LEVELS = {"error": "error", "warning": "warning", "info": "note"}
DOCS = "https://github.com/edgesite/edgesite/blob/main/docs/lint"


Located = tuple[str, int, str, Finding]  # (source, line, site, finding)


def text(found: list[Located]) -> str:
    lines = [f"{source}:{line}: {site}: {f.severity} {f.rule} {f.path}: {f.message} (fix: {f.fix})" for source, line, site, f in found]
    counts = {s: sum(1 for *_, f in found if f.severity == s) for s in ("error", "warning", "info")}
    lines.append(f"{counts['error']} errors, {counts['warning']} warnings, {counts['info']} info")
    return "\n".join(lines) + "\n"


def as_json(found: list[Located]) -> str:
    return json.dumps([{"file": source, "line": line, "site": site, "rule": f.rule, "severity": f.severity, "path": f.path,
                        "message": f.message, "fix": f.fix} for source, line, site, f in found], indent=2) + "\n"


def sarif(found: list[Located]) -> str:
    rules = [{"id": r.id, "name": r.name, "shortDescription": {"text": r.summary}, "fullDescription": {"text": " ".join(r.doc.split())},
              "helpUri": f"{DOCS}/{r.id}.md", "defaultConfiguration": {"level": SARIF_LEVELS[r.severity]}} for r in RULES]
    index = {r.id: i for i, r in enumerate(RULES)}
    results: list[dict[str, Any]] = [{
        "ruleId": f.rule, "ruleIndex": index[f.rule], "level": SARIF_LEVELS[f.severity],
        "message": {"text": f"{site}: {f.path}: {f.message}. Fix: {f.fix}"},
        "locations": [{"physicalLocation": {"artifactLocation": {"uri": source}, "region": {"startLine": line}},
                       "logicalLocations": [{"fullyQualifiedName": f"{site}.{f.path}", "kind": "member"}]}],
    } for source, line, site, f in found]
    log = {"$schema": "https://json.schemastore.org/sarif-2.1.0.json", "version": "2.1.0",
           "runs": [{"tool": {"driver": {"name": "edgesite-lint", "version": __version__, "informationUri": DOCS, "rules": rules}},
                     "results": results}]}
    return json.dumps(log, indent=2) + "\n"


def rule_page(rule_id: str) -> str:
    """The docs/lint/<ID>.md page of one rule, from its registration and docstring."""
    rule = next(r for r in RULES if r.id == rule_id)
    return f"# {rule.id} {rule.name}\n\nSeverity: **{rule.severity}**. {rule.summary}\n\n{' '.join(rule.doc.split())}\n"

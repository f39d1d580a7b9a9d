"""Files generated from the code, never edited by hand: the chart's CRD and PriorityClasses, the docs."""

from __future__ import annotations

from .crd import custom_resource_definition
from .output import to_yaml
from .render import priority_classes

CHART = "charts/edgesite-operator"


def generated_files() -> dict[str, str]:
    """Chart-relative path -> content; `make crd` writes them and a test fails when they drift."""
    return {
        "crds/edgesites.edgesite.io.yaml": to_yaml([custom_resource_definition()]),
        "templates/priorityclasses.yaml": "{{- if .Values.priorityClasses.create }}\n" + to_yaml(priority_classes()) + "{{- end }}\n",
    }


def generated_docs() -> dict[str, str]:
    """Repository-relative path -> content of the generated documentation."""
    from .lint import formats, rules  # noqa: F401 - importing the rules registers them
    from .lint.core import RULES
    from .reference import reference_markdown

    pages = {f"docs/lint/{r.id}.md": formats.rule_page(r.id) for r in RULES}
    index = "# Lint rules\n\n| rule | name | severity | summary |\n|---|---|---|---|\n" + "".join(
        f"| [{r.id}]({r.id}.md) | {r.name} | {r.severity} | {r.summary} |\n" for r in RULES)
    return {"docs/reference.md": reference_markdown(), "docs/lint/README.md": index, **pages}

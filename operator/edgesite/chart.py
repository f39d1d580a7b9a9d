"""The chart's generated files: the CRD and the PriorityClasses come from the code, never by hand."""

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

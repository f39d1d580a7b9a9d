"""The API reference (docs/reference.md), generated from the model like the CRD."""

from __future__ import annotations

from typing import Any

from .crd import custom_resource_definition


def _type(node: dict[str, Any]) -> str:
    kind = node.get("type", "object")
    if kind == "array":
        return f"list of {_type(node['items'])}"
    if "enum" in node:
        return " \\| ".join(f"`{v}`" for v in node["enum"])
    return str(kind)


def _rows(node: dict[str, Any], path: str) -> list[str]:
    rows: list[str] = []
    required = set(node.get("required", []))
    for name, child in node.get("properties", {}).items():
        field = f"{path}.{name}"
        default = f"`{child['default']}`" if "default" in child else ("required" if name in required else "")
        description = child.get("description", "").replace("|", "\\|").replace("\n", " ")
        rows.append(f"| `{field}` | {_type(child)} | {default} | {description} |")
        target = child["items"] if child.get("type") == "array" and "items" in child else child
        if "properties" in target:
            rows += _rows(target, field + ("[]" if target is not child else ""))
    return rows


def reference_markdown() -> str:
    schema = custom_resource_definition()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    lines = ["# EdgeSite API reference (edgesite.io/v1alpha1)", "",
             "Generated from the pydantic model by `make crd`; a test fails when it drifts.", "",
             "| field | type | default | description |", "|---|---|---|---|"]
    lines += _rows(schema["properties"]["spec"], "spec")
    lines += ["", "## Cross-field rules (enforced by `edgesite validate` and by the API server as CEL)", ""]

    def rules(node: dict[str, Any], path: str) -> None:
        for rule in node.get("x-kubernetes-validations", []):
            lines.append(f"- `{path}{rule.get('fieldPath', '')}`: {rule['message']}")
        for name, child in node.get("properties", {}).items():
            rules(child["items"] if child.get("type") == "array" and "items" in child else child, f"{path}.{name}")

    rules(schema["properties"]["spec"], "spec")
    lines += ["", "## Status", "", "| field | type | description |", "|---|---|---|"]
    lines += [row.rsplit("|", 3)[0] + "|" + row.rsplit("|", 2)[1] + "|" for row in _rows(schema["properties"]["status"], "status")]
    return "\n".join(lines) + "\n"

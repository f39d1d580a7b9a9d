"""The EdgeSite CustomResourceDefinition, generated from the pydantic model.

The API server accepts only structural schemas, so pydantic's JSON schema is rewritten: `$ref` inlined
(keeping sibling descriptions), `anyOf [X, null]` collapsed to X (the server prunes nulls, which then
mean "not given" as in the model), `title` and `additionalProperties: false` dropped, `const` turned
into `enum`, object defaults reduced to `{}` (nested defaults fill them), and each class's cross-field RULES added as CEL.
"""

from __future__ import annotations

import copy
from typing import Any

from pydantic import BaseModel

from . import model
from .model import API_VERSION, GROUP, KIND, SITE_NAME_MAX, VERSION

PLURAL = "edgesites"
SINGULAR = "edgesite"
SHORT_NAMES = ["esite"]
CATEGORIES = ["edge"]
NAME = f"{PLURAL}.{GROUP}"

PRINTER_COLUMNS = [
    {"name": "Mode", "type": "string", "jsonPath": ".status.mode", "description": "Online, Degraded or Offline."},
    {"name": "Ready", "type": "string", "jsonPath": '.status.conditions[?(@.type=="Ready")].status',
     "description": "Whether every component the mode asks for is ready."},
    {"name": "Degraded", "type": "string", "jsonPath": '.status.conditions[?(@.type=="Degraded")].status',
     "description": "Whether a degradation policy is in force."},
    {"name": "Components", "type": "string", "jsonPath": ".status.ready", "description": "Ready components over desired."},
    {"name": "Uplink", "type": "string", "jsonPath": '.status.conditions[?(@.type=="UplinkAvailable")].status',
     "priority": 1, "description": "Whether the cloud is reachable."},
    {"name": "Reason", "type": "string", "jsonPath": '.status.conditions[?(@.type=="Degraded")].reason',
     "priority": 1, "description": "Why the site is degraded."},
    {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
]

_DROP = {"title", "additionalProperties", "discriminator"}


def _rules_by_class() -> dict[str, list[dict[str, str]]]:
    found: dict[str, list[dict[str, str]]] = {}
    for value in vars(model).values():
        if isinstance(value, type) and issubclass(value, model.Spec) and value.RULES:
            found[value.__name__] = [rule.schema() for rule in value.RULES]
    return found


def structural(schema: dict[str, Any], defs: dict[str, Any], rules: dict[str, list[dict[str, str]]]) -> dict[str, Any]:
    """Rewrite one pydantic JSON schema node into a structural Kubernetes schema node."""
    node = dict(schema)
    if "$ref" in node:
        name = node.pop("$ref").rsplit("/", 1)[-1]
        target = structural(defs[name], defs, rules)
        siblings = structural({k: v for k, v in node.items() if k in ("description", "default")}, defs, rules)
        target.update(siblings)
        if name in rules:
            target["x-kubernetes-validations"] = rules[name]
        return target
    if "anyOf" in node:
        options = [option for option in node.pop("anyOf") if option.get("type") != "null"]
        if len(options) != 1:
            raise ValueError(f"cannot make a structural schema of a union: {options}")
        merged = structural(options[0], defs, rules)
        merged.update(structural({k: v for k, v in node.items() if k != "default" or v is not None}, defs, rules))
        return merged
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _DROP:
            continue
        if key in ("exclusiveMinimum", "exclusiveMaximum"):
            out["minimum" if key == "exclusiveMinimum" else "maximum"] = value
            out[key] = True
        elif key == "const":
            out["enum"] = [value]
        elif key == "default":
            if value is None or (isinstance(value, list) and (not value or isinstance(value[0], dict))):
                continue
            # An object default is `{}`: the server then fills in each nested default itself.
            out["default"] = {} if isinstance(value, dict) else value
        elif key == "properties":
            out["properties"] = {name: structural(prop, defs, rules) for name, prop in value.items()}
        elif key == "items":
            out["items"] = structural(value, defs, rules)
        elif key == "additionalProperties" or key == "$defs":
            continue
        else:
            out[key] = copy.deepcopy(value)
    if node.get("type") == "object" and isinstance(node.get("additionalProperties"), dict):
        out["additionalProperties"] = structural(node["additionalProperties"], defs, rules)
    if "enum" in out and "type" not in out:
        out["type"] = "string" if all(isinstance(v, str) for v in out["enum"]) else "integer"
    return out


def schema_of(cls: type[BaseModel]) -> dict[str, Any]:
    """The structural schema of one model class, with its rules."""
    raw = cls.model_json_schema(by_alias=True, mode="validation")
    rules = _rules_by_class()
    result = structural(raw, raw.get("$defs", {}), rules)
    if cls.__name__ in rules:
        result["x-kubernetes-validations"] = rules[cls.__name__]
    return result


def custom_resource_definition() -> dict[str, Any]:
    """The whole CRD object, ready to apply."""
    spec_schema = schema_of(model.EdgeSiteSpec)
    status_schema = schema_of(model.EdgeSiteStatus)
    root = {
        "type": "object",
        "description": model.EdgeSite.__doc__.strip() + " " + model.EdgeSiteSpec.__doc__.strip(),
        "required": ["spec"],
        "properties": {
            "apiVersion": {"type": "string"},
            "kind": {"type": "string"},
            "metadata": {"type": "object", "properties": {"name": {
                "type": "string", "maxLength": SITE_NAME_MAX, "pattern": model.NAME_PATTERN}}},
            "spec": spec_schema,
            "status": status_schema,
        },
    }
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": NAME, "labels": {"app.kubernetes.io/name": "edgesite", "app.kubernetes.io/part-of": "edgesite"}},
        "spec": {
            "group": GROUP,
            "names": {"kind": KIND, "listKind": f"{KIND}List", "plural": PLURAL, "singular": SINGULAR,
                      "shortNames": SHORT_NAMES, "categories": CATEGORIES},
            "scope": "Namespaced",
            "versions": [{
                "name": VERSION, "served": True, "storage": True,
                "schema": {"openAPIV3Schema": root},
                "subresources": {"status": {}},
                "additionalPrinterColumns": PRINTER_COLUMNS,
            }],
        },
    }


assert API_VERSION == f"{GROUP}/{VERSION}"

"""Turning documents into validated EdgeSites, or into problems a person can act on.

Every problem names the file, the line, the site, the field path, what is wrong, what was given and what
would be valid: `FILE:LINE: SITE: spec.path: what is wrong (got X; expected Y)`.

Exceptions:
    EdgeSiteError                 base of everything the CLI reports without a traceback
    └── InvalidInput              one or more Problems; nothing may be written
"""

from __future__ import annotations

import types
import typing
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from .model import NAME_PATTERN, EdgeSite, Spec
from .quantities import QUANTITY_PATTERN

try:
    _Loader: type = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - libyaml missing
    _Loader = yaml.SafeLoader

_PATTERNS = {
    QUANTITY_PATTERN: "a quantity such as 16Gi, 512Mi, 2 or 500m",
    NAME_PATTERN: "a DNS label: lower-case letters, digits and '-', starting with a letter",
}


class EdgeSiteError(Exception):
    """Base of the errors the CLI reports as messages."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one document."""

    source: str
    line: int
    site: str
    path: str
    message: str
    got: str | None = None
    expected: str | None = None

    def __str__(self) -> str:
        detail = "; ".join(part for part in (f"got {self.got}" if self.got is not None else "",
                                             f"expected {self.expected}" if self.expected else "") if part)
        where = f"{self.path}: " if self.path else ""
        return f"{self.source}:{self.line}: {self.site}: {where}{self.message}" + (f" ({detail})" if detail else "")


class InvalidInput(EdgeSiteError):
    """The input holds problems; the message lists them one per line."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


@dataclass(frozen=True)
class Document:
    """One YAML document and where it came from."""

    source: str
    index: int
    data: Any
    text: str


def format_path(loc: Iterable[str | int]) -> str:
    """`('spec', 'inference', 0, 'model')` -> `spec.inference[0].model`."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _show(value: Any) -> str:
    if isinstance(value, str):
        return repr(value) if value else "''"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return str(value).lower() if isinstance(value, bool) else str(value)


# ------------------------------------------------------------------------------------------ reading


def read_documents(source: str, text: str) -> list[Document]:
    """Parse multi-document YAML; a syntax error becomes a Problem with its line."""
    try:
        loaded = list(yaml.load_all(text, Loader=_Loader))
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
        line = mark.line + 1 if mark else 1
        reason = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise InvalidInput([Problem(source, line, "-", "", f"YAML syntax error: {reason}")]) from None
    return [Document(source, index, data, text) for index, data in enumerate(loaded) if data is not None]


def _document_nodes(text: str) -> list[yaml.Node]:
    return [node for node in yaml.compose_all(text, Loader=_Loader) if node is not None]


def line_of(node: yaml.Node | None, loc: Iterable[str | int]) -> int:
    """The line of the deepest node along `loc` (the parent's line when the field is missing)."""
    if node is None:
        return 1
    line = node.start_mark.line + 1
    for part in loc:
        child = None
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if key.value == part:
                    child, line = value, key.start_mark.line + 1
                    break
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            child = node.value[part]
            line = child.start_mark.line + 1
        if child is None:
            break
        node = child
    return line


# ----------------------------------------------------------------------------------------- checking


def _model_at(loc: tuple[str | int, ...]) -> type[BaseModel] | None:
    """The model class whose field sits at `loc` in an EdgeSite, for listing valid field names."""
    current: Any = EdgeSite
    for part in loc:
        if isinstance(part, int):
            continue
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return None
        field = next((f for n, f in current.model_fields.items() if (f.alias or n) == part or n == part), None)
        if field is None:
            return None
        current = _unwrap(field.annotation)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _unwrap(annotation: Any) -> Any:
    while True:
        origin = typing.get_origin(annotation)
        if origin in (typing.Union, types.UnionType):
            annotation = next(a for a in typing.get_args(annotation) if a is not type(None))
        elif origin in (list, typing.Annotated):
            annotation = typing.get_args(annotation)[0]
        elif origin is dict:
            annotation = typing.get_args(annotation)[1]
        else:
            return annotation


def _field_names(model: type[BaseModel]) -> str:
    return ", ".join(sorted(f.alias or n for n, f in model.model_fields.items()))


def _describe(error: Any) -> tuple[str, str | None, str | None]:
    """(message, got, expected) for one pydantic error."""
    kind, ctx, loc = error["type"], error.get("ctx") or {}, tuple(error["loc"])
    value = error.get("input")
    if kind == "extra_forbidden":
        parent = _model_at(loc[:-1])
        return "unknown field", str(loc[-1]), (f"one of {_field_names(parent)}" if parent else None)
    if kind == "missing":
        return "required field is missing", None, None
    if kind == "literal_error":
        return "not an allowed value", _show(value), f"one of {ctx.get('expected', '')}".replace("'", "")
    if kind == "string_pattern_mismatch":
        return "has the wrong format", _show(value), _PATTERNS.get(ctx.get("pattern", ""), f"a match of {ctx.get('pattern')}")
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        return error["msg"].replace("Input should be", "must be"), _show(value), None
    if kind in ("too_short", "too_long", "string_too_short", "string_too_long"):
        return error["msg"].replace("should have", "must have").replace("String should", "must"), \
            (_show(value) if not isinstance(value, (list, dict)) else None), None
    if kind == "value_error":
        return str(ctx.get("error", error["msg"])), _show(value), None
    if kind.endswith("_type") or kind.endswith("_parsing"):
        expected = kind.split("_")[0].replace("dict", "mapping").replace("model", "mapping")
        expected = {"int": "a whole number", "float": "a number", "bool": "true or false",
                    "string": "a string", "list": "a list", "mapping": "a mapping"}.get(expected, expected)
        return "has the wrong type", _show(value), expected
    return error["msg"], _show(value), None


def _rule_problems(model: Any, path: tuple[str | int, ...]) -> Iterator[tuple[tuple[str | int, ...], str, Any, str]]:
    """Walk the validated model and yield every broken cross-field rule with its full path."""
    if isinstance(model, Spec):
        for rule in type(model).RULES:
            for relative, value in rule.violations(model):
                yield path + _parse_relative(relative), rule.message, value, rule.expected
        for name, field in type(model).model_fields.items():
            yield from _rule_problems(getattr(model, name), path + (field.alias or name,))
    elif isinstance(model, (list, tuple)):
        for index, item in enumerate(model):
            yield from _rule_problems(item, path + (index,))


def _parse_relative(relative: str) -> tuple[str | int, ...]:
    parts: list[str | int] = []
    for piece in relative.split("."):
        name, _, rest = piece.partition("[")
        parts.append(name)
        if rest:
            parts.append(int(rest.rstrip("]")))
    return tuple(parts)


def _duplicates(spec: dict[str, Any]) -> Iterator[tuple[tuple[str | int, ...], str, Any, str]]:
    for key in ("inference", "functions", "caches", "sync"):
        items = spec.get(key)
        if not isinstance(items, list):
            continue
        seen: set[str] = set()
        for index, item in enumerate(items):
            name = item.get("name") if isinstance(item, dict) else None
            if isinstance(name, str) and name in seen:
                yield ("spec", key, index, "name"), f"duplicate name in spec.{key}", name, "names unique within the list"
            if isinstance(name, str):
                seen.add(name)


def check_document(document: Document) -> tuple[EdgeSite | None, list[Problem]]:
    """Validate one document: the site, or the problems (never both)."""
    data = document.data
    site = "-"
    if isinstance(data, dict) and isinstance(data.get("metadata"), dict):
        site = str(data["metadata"].get("name") or "-")
    found: list[tuple[tuple[str | int, ...], str, str | None, str | None]] = []
    parsed: EdgeSite | None = None
    if not isinstance(data, dict):
        found.append(((), "a document must be a mapping (an EdgeSite object)", _show(data), "kind: EdgeSite"))
    else:
        spec = data.get("spec")
        if isinstance(spec, dict):
            found.extend((loc, msg, _show(got), exp) for loc, msg, got, exp in _duplicates(spec))
        try:
            parsed = EdgeSite.model_validate(data)
        except ValidationError as error:
            for item in error.errors():
                message, got, expected = _describe(item)
                found.append((tuple(item["loc"]), message, got, expected))
        else:
            found.extend((loc, msg, _show(got), exp) for loc, msg, got, exp in _rule_problems(parsed.spec, ("spec",)))
    if not found:
        return parsed, []
    nodes = _document_nodes(document.text)
    root = nodes[document.index] if document.index < len(nodes) else None
    problems = [Problem(document.source, line_of(root, loc), site, format_path(loc), message, got, expected)
                for loc, message, got, expected in found]
    return None, sorted(set(problems), key=lambda p: (p.line, p.path, p.message))


def load_sites(inputs: Iterable[tuple[str, str]]) -> list[EdgeSite]:
    """Validate every document of every (source, text); raise InvalidInput listing all problems."""
    return [site for site, _ in load_site_documents(inputs)]


def line_of_path(document: Document, path: str) -> int:
    """The line of a field path such as `spec.inference[1].model` in the document it came from."""
    nodes = _document_nodes(document.text)
    return line_of(nodes[document.index] if document.index < len(nodes) else None, _parse_relative(path))


def load_site_documents(inputs: Iterable[tuple[str, str]]) -> list[tuple[EdgeSite, Document]]:
    """Like load_sites, keeping the document each site came from (for line numbers)."""
    sites: list[tuple[EdgeSite, Document]] = []
    problems: list[Problem] = []
    for source, text in inputs:
        try:
            documents = read_documents(source, text)
        except InvalidInput as error:
            problems.extend(error.problems)
            continue
        if not documents:
            problems.append(Problem(source, 1, "-", "", "no EdgeSite document found", None, "kind: EdgeSite"))
        for document in documents:
            parsed, found = check_document(document)
            problems.extend(found)
            if parsed is not None:
                sites.append((parsed, document))
    seen: dict[tuple[str, str], EdgeSite] = {}
    for site, _ in sites:
        key = (site.namespace, site.name)
        if key in seen:
            problems.append(Problem("-", 1, site.name, "metadata.name",
                                    "the same site is given twice", f"{site.namespace}/{site.name}", "one document per site"))
        seen[key] = site
    if problems:
        raise InvalidInput(problems)
    return sites

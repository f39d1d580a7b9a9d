"""Cross-field rules, written once and enforced twice: in Python by `validation`, and by the API server
as CEL `x-kubernetes-validations` that `crd` copies into the generated schema.

A rule belongs to the model class it is attached to (`RULES` class variable). `violations` yields
`(relative path, offending value)` for each place the rule is broken, so messages point at the field.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

Violation = tuple[str, Any]


@dataclass(frozen=True)
class Rule:
    """A cross-field rule: its CEL twin for the API server and its Python check for everything else."""

    cel: str
    message: str
    expected: str
    violations: Callable[[Any], Iterable[Violation]]
    field_path: str | None = None

    def schema(self) -> dict[str, str]:
        """The `x-kubernetes-validations` entry for this rule."""
        entry = {"rule": self.cel, "message": self.message}
        if self.field_path:
            entry["fieldPath"] = self.field_path
        return entry


def unless(predicate: Callable[[Any], bool], path: str, value: Callable[[Any], Any]) -> Callable[[Any], Iterable[Violation]]:
    """A violation check for a rule that concerns one field: broken where `predicate` is false."""

    def check(model: Any) -> Iterable[Violation]:
        if not predicate(model):
            yield path, value(model)

    return check

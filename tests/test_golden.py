"""Golden files: the rendered YAML of every example and mode, reviewed like code.

EDGESITE_UPDATE_GOLDEN=1 (or `make golden`) rewrites them after an intended change.
"""

from __future__ import annotations

import os

import pytest

from edgesite.output import to_yaml
from edgesite.plan import Plan
from edgesite.render import render

from tests.conftest import REPO, load_example

GOLDEN = REPO / "tests" / "golden"
CASES = [("minimal", "Online"), ("full", "Online"), ("full", "Offline")]


@pytest.mark.parametrize("example,mode", CASES, ids=[f"{e}-{m.lower()}" for e, m in CASES])
def test_rendering_matches_golden(example: str, mode: str) -> None:
    site = load_example(example)
    text = to_yaml(render(site, Plan.for_mode(site, mode)))
    path = GOLDEN / f"{example}-{mode.lower()}.golden.yaml"
    if os.environ.get("EDGESITE_UPDATE_GOLDEN") == "1":
        path.write_text(text)
    assert path.exists(), f"{path.name} missing: run `make golden` and review it"
    assert text == path.read_text(), f"{path.name} differs: review the change, then `make golden`"

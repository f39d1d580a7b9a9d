"""Every rendered manifest validates offline, strictly, against the OpenAPI schemas of the supported versions."""

from __future__ import annotations

import pytest
import kubernetes_validate

from edgesite.plan import Plan
from edgesite.render import priority_classes, render

from tests.conftest import load_example

SUPPORTED = ["1.31.0", "1.33.0", "1.35.0", "1.36.0"]


@pytest.mark.parametrize("version", SUPPORTED)
@pytest.mark.parametrize("example", ["minimal", "full"])
def test_manifests_validate_strictly(example: str, version: str) -> None:
    site = load_example(example)
    manifests = render(site) + render(site, Plan(on_cpu=frozenset(e.name for e in site.spec.inference),
                                                  on_fallback=frozenset(e.name for e in site.spec.inference))) + priority_classes()
    for manifest in manifests:
        try:
            kubernetes_validate.validate(manifest, version, strict=True)
        except kubernetes_validate.ValidationError as error:
            pytest.fail(f"{manifest['kind']}/{manifest['metadata']['name']} on {version}: {error.message} at {list(error.path)}")


def test_a_typo_would_be_caught() -> None:
    """The check itself can fail: a misspelt field is refused in strict mode."""
    manifest = render(load_example("minimal"))[-1]
    broken = {**manifest, "spec": {**manifest["spec"], "podSelectr": {}}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, "1.36.0", strict=True)

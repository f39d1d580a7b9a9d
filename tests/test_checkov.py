"""checkov finds nothing in the rendered examples beyond the documented skips (docs/security.md)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from edgesite.output import kustomize_files, write_folder
from edgesite.render import render

from tests.conftest import IN_CI, load_example

pytestmark = pytest.mark.programs

# Each skip is justified in docs/security.md.
SKIPS = {
    "CKV_K8S_15": "imagePullPolicy Always makes every restart depend on the registry: wrong for a site whose uplink is down",
    "CKV_K8S_43": "images are pinned by tag in one table; digests can be pinned per component with `image`",
    "CKV_K8S_40": "each image runs as the non-root UID its maintainers built it for; an arbitrary high UID breaks file ownership",
}


def checkov() -> str:
    found = os.environ.get("EDGESITE_CHECKOV") or shutil.which("checkov")
    if not found or not Path(found).exists():
        if IN_CI:
            pytest.fail("checkov is not installed (make checkov)")
        pytest.skip("checkov is not installed (make checkov)")
    return found


def test_checkov_finds_nothing_undocumented(tmp_path: Path) -> None:
    binary = checkov()
    manifests = render(load_example("full")) + render(load_example("minimal"))
    write_folder(tmp_path / "site", kustomize_files(manifests))
    result = subprocess.run([binary, "-d", str(tmp_path / "site"), "--framework", "kubernetes", "--skip-download", "--quiet",
                             "--compact", "--output", "json", "--skip-check", ",".join(SKIPS)],
                            capture_output=True, text=True, timeout=300)
    report = json.loads(result.stdout)
    reports = report if isinstance(report, list) else [report]
    failed = [(c["check_id"], c["resource"]) for r in reports for c in r["results"]["failed_checks"]]
    passed = sum(r["summary"]["passed"] for r in reports)
    assert failed == []
    assert passed > 500, "checkov ran its Kubernetes checks"
